"""What metadata does: sign-up, plan changes, versions, details, trash and the change feed.

Every state change runs in one MongoDB transaction with its outbox rows and its change-feed
entry; S3 objects to delete are recorded in the same transaction and deleted after commit.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from docstore_events import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileVersionRecorded,
    FileRestored,
    FileTrashed,
    UploadCompleted,
)
from docstore_events.runtime import EventRuntime
from docstore_metadata.adapters.replication import ReplicaRepository, ReplicationQueue, replica_state
from docstore_metadata.adapters.repositories import EPOCH, AccountRepository, DocumentRepository, search_keys
from docstore_metadata.domain.accounts import (
    Account,
    burn_verification,
    new_account,
    normalise_username,
    password_matches,
    username_winner,
)
from docstore_metadata.domain.documents import (
    VersionRecorded,
    check_name,
    check_path,
    check_tags,
    conflict_copy_name,
    freed_objects,
    next_version,
    versions_to_prune,
)

T = TypeVar("T")
Session = AsyncClientSession
CONFLICT_NAMESPACE = uuid.UUID("6f1c6c1e-8f0a-4d3e-9a57-0c2b1f6d0e11")


class UsernameTaken(Exception):
    """Sign-up with a username somebody already has."""


class HomeElsewhere(Exception):
    """The username belongs to an account whose home is another region (this one holds its replica)."""

    def __init__(self, home_region: str) -> None:
        super().__init__(home_region)
        self.home_region = home_region


class UsernameLost(Exception):
    """The account signed up with a username another region gave away at the same moment, and lost it."""

    def __init__(self, account: dict[str, Any]) -> None:
        super().__init__(account["username"])
        self.username = account["username"]
        self.winner_region = (account.get("conflict_with") or {}).get("home_region", "")


class InvalidReplica(ValueError):
    """A replica write that cannot be right (e.g. for an account whose home is this region)."""


class NotOwner(Exception):
    """An upload for a document that belongs to another account."""


class DocumentNotFound(LookupError):
    """No such document for this account (someone else's answers the same)."""


class VersionNotFound(LookupError):
    """No such version of the document (never existed, or pruned)."""


class InTrash(Exception):
    """The document is in the trash: restore it first."""


class NotInTrash(Exception):
    """Restore from the trash of a document that is not there."""


class TrashExpired(Exception):
    """The restore window has passed; the document is being purged."""


def conflict_copy_id(upload_id: str) -> str:
    """The conflict copy's id, derived from the upload so a redelivered event makes the same one."""
    return str(uuid.uuid5(CONFLICT_NAMESPACE, f"conflict:{upload_id}"))


class Metadata:
    def __init__(
        self, events: EventRuntime, accounts: AccountRepository, documents: DocumentRepository, region: str,
        *, version_caps: dict[str, int] | None = None, trash_retention: timedelta = timedelta(days=30),
        replicas: ReplicaRepository | None = None, replication: ReplicationQueue | None = None,
    ):
        self.events = events
        self.replicas = replicas or ReplicaRepository(accounts.collection.database)
        self.replication = replication or ReplicationQueue(accounts.collection.database, {})
        self.accounts = accounts
        self.documents = documents
        self.region = region
        self.version_caps = version_caps or {"free": 10, "premium": 100}
        self.trash_retention = trash_retention
        self.garbage_added = asyncio.Event()

    async def _transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        result = await self.events.transaction(work)
        self.replication.wake()
        return result

    # --- accounts --------------------------------------------------------------------

    async def sign_up(self, *, username: str, email: str, password: str, plan: str) -> Account:
        """Store the account and emit `account.created` (without any secret) in one transaction,
        claim its username here and queue its replica for every other region.

        A username held here by anyone, a local account or another region's replica, is taken.
        """
        # argon2 takes ~100 ms of CPU: off the event loop, so the relays and other requests keep going.
        account = await asyncio.to_thread(
            new_account, username=username, email=email, password=password, plan=plan, region=self.region
        )

        async def write(session: Session) -> None:
            await self.replicas.claim_new(account.username, account.id, self.region, session)
            await self.accounts.add(account, session)
            await self.events.outbox.add(
                AccountCreated(
                    account_id=account.id,
                    username=account.username,
                    email=account.email,
                    plan=plan,  # type: ignore[arg-type]
                    home_region=account.home_region,
                ),
                session=session,
            )
            state = {"username": account.username, "home_region": self.region, "plan": plan, "status": "active",
                     "version": 1}
            await self.replication.enqueue(account.id, state, session)

        try:
            await self._transaction(write)
        except DuplicateKeyError as error:
            raise UsernameTaken(account.username) from error
        return account

    async def authenticate(self, username: str, password: str) -> dict | None:
        """The account whose credentials these are, or None.

        `HomeElsewhere` when the name belongs to another region's account (a replica here:
        it has no password, the home region checks it); `UsernameLost` when the password is
        right but the account lost its name to a simultaneous sign-up in another region.
        """
        name = normalise_username(username)
        account = await self.accounts.by_username(name)
        if account is None:
            await asyncio.to_thread(burn_verification, password)
        elif await asyncio.to_thread(password_matches, account["password_hash"], password):
            status = account.get("status", "active")
            if status == "username_conflict":
                raise UsernameLost(account)
            return account if status == "active" else None
        owner = await self.replicas.owner_of(name)
        if owner is not None and owner["home_region"] != self.region:
            replica = await self.replicas.replica(owner["account_id"])
            if replica is not None and replica.get("status", "active") == "active":
                raise HomeElsewhere(owner["home_region"])
        return None

    async def _replicate(self, account_id: str, session: Session) -> dict:
        """Bump the account's replica version and queue its new state for every other region."""
        account = await self.accounts.collection.find_one_and_update(
            {"_id": account_id}, {"$inc": {"replica_version": 1}}, return_document=ReturnDocument.AFTER, session=session
        )
        await self.replication.enqueue(account_id, replica_state(account), session)
        return account

    async def change_plan(self, account_id: str, plan: str) -> dict:
        async def write(session: Session) -> dict:
            account = await self.accounts.by_id(account_id, session)
            if account is None:
                raise LookupError(account_id)
            if account["plan"] != plan:
                await self.accounts.set_plan(account_id, plan, session)
                await self.events.outbox.add(
                    AccountPlanChanged(account_id=account_id, old_plan=account["plan"], new_plan=plan),  # type: ignore[arg-type]
                    session=session,
                )
                account = await self._replicate(account_id, session)
            return account

        return await self._transaction(write)

    async def delete_account(self, account_id: str) -> None:
        """Mark the account deleted (its username stays reserved), emit `account.deleted` and
        replicate the deletion. Deleting a deleted account changes nothing."""

        async def write(session: Session) -> None:
            account = await self.accounts.by_id(account_id, session)
            if account is None:
                raise LookupError(account_id)
            if account.get("status", "active") == "deleted":
                return
            await self.accounts.collection.update_one(
                {"_id": account_id}, {"$set": {"status": "deleted", "deleted_at": datetime.now(UTC)}}, session=session
            )
            await self.events.outbox.add(
                AccountDeleted(account_id=account_id, username=account["username"], home_region=account["home_region"]),
                session=session,
            )
            await self._replicate(account_id, session)

        await self._transaction(write)

    async def receive_replica(self, account_id: str, state: dict[str, Any]) -> bool:
        """Store another region's account (minimal state), once per version; emit `account.replicated`.

        A version not above the one held changes nothing (a resent write, or one that arrives
        after a newer one). Username conflicts are settled by `username_winner`: if a local
        account loses, it is marked `username_conflict`, told at login, and that replicates too.
        Returns whether anything changed.
        """
        if state["home_region"] == self.region:
            raise InvalidReplica(f"account {account_id} has its home here, in {self.region}")

        async def write(session: Session) -> bool:
            held = await self.replicas.replica(account_id, session)
            if held is not None and int(held["version"]) >= int(state["version"]):
                return False
            await self.replicas.put_replica(account_id, state, session)
            username = state["username"]
            owner = await self.replicas.owner_of(username, session)
            local = await self.accounts.by_username(username, session)
            contenders = {account_id: state["home_region"]}
            if owner is not None:
                contenders[owner["account_id"]] = owner["home_region"]
            if local is not None and local.get("status", "active") != "username_conflict":
                contenders[local["_id"]] = self.region
            winner = functools.reduce(username_winner, contenders)
            if local is not None and local["_id"] != winner and local.get("status", "active") != "username_conflict":
                await self._lose_username(local, winner, contenders[winner], session)
            await self.replicas.claim(username, winner, contenders[winner], session)
            await self.events.outbox.add(
                AccountReplicated(
                    account_id=account_id, username=username, home_region=state["home_region"],
                    replica_region=self.region, version=int(state["version"]), status=state["status"],
                ),
                session=session,
            )
            return True

        return await self._transaction(write)

    async def _lose_username(self, local: dict[str, Any], winner_id: str, winner_region: str, session: Session) -> None:
        await self.accounts.collection.update_one(
            {"_id": local["_id"]},
            {"$set": {"status": "username_conflict",
                      "conflict_with": {"account_id": winner_id, "home_region": winner_region, "at": datetime.now(UTC)}}},
            session=session,
        )
        await self.events.outbox.add(
            AccountUsernameConflicted(
                account_id=local["_id"], username=local["username"], home_region=self.region,
                winner_account_id=winner_id, winner_region=winner_region,
            ),
            session=session,
        )
        await self._replicate(local["_id"], session)

    # --- change feed -----------------------------------------------------------------

    async def _change(self, session: Session, kind: str, doc: dict[str, Any], **extra: Any) -> int:
        return await self.documents.add_change(
            {
                "account_id": doc["account_id"],
                "kind": kind,
                "document_id": doc["_id"],
                "path": doc.get("path", "/"),
                "name": doc["name"],
                "version": doc.get("current_version"),
                "sha256": doc.get("sha256"),
                "at": datetime.now(UTC),
                **extra,
            },
            session,
        )

    # --- versions --------------------------------------------------------------------

    async def record_upload(self, event: UploadCompleted, session: Session) -> VersionRecorded:
        """A completed upload becomes a version.

        * a document id not seen before: a new document at version 1;
        * an existing document with no base version, or with the current one as base: its next
          version, with `file.modified`;
        * an existing document whose current version is not the base (another write came first):
          first write wins, and this upload becomes a new document, a conflict copy, in the same folder.
        """
        document = await self.documents.get(event.document_id, session)
        if document is not None and document["account_id"] != event.account_id:
            raise NotOwner(event.document_id)
        now = datetime.now(UTC)
        if document is not None and event.base_version is not None and event.base_version != document["current_version"]:
            copy_id = conflict_copy_id(event.upload_id)
            copy = await self._new_document(event, session, now, document_id=copy_id,
                                            name=conflict_copy_name(document["name"], now),
                                            path=document.get("path", "/"), tags=document.get("tags", []),
                                            title=document.get("title"))
            await self._change(session, "conflict", copy, conflict_of=document["_id"],
                               base_version=event.base_version, current_version_of_original=document["current_version"])
            return VersionRecorded(copy_id, 1, True, conflict_of=document["_id"])
        if document is None:
            created = await self._new_document(event, session, now, document_id=event.document_id, name=event.filename,
                                               path=event.path, tags=event.tags, title=event.title)
            await self._change(session, "created", created)
            return VersionRecorded(event.document_id, 1, True)
        version = next_version(document["current_version"])
        version_row = self._version_row(event, event.document_id, version, now)
        await self.documents.insert_version(version_row, session)
        current = {"current_version": version, "size": event.size, "sha256": event.sha256,
                   "content_type": event.content_type, "modified_at": now}
        await self.documents.update_document(event.document_id, current, session)
        document.update(current)
        await self._version_recorded(document, version_row, session)
        await self._modified(document, session, actor_id=event.actor_id or event.account_id)
        return VersionRecorded(event.document_id, version, False)

    @staticmethod
    def _version_row(event: UploadCompleted, document_id: str, version: int, now: datetime) -> dict[str, Any]:
        return {
            "_id": f"{document_id}:{version}",
            "document_id": document_id,
            "account_id": event.account_id,
            "version": version,
            "upload_id": event.upload_id,
            "bucket": event.bucket,
            "key": event.key,
            "size": event.size,
            "etag": event.etag,
            "sha256": event.sha256,
            "content_type": event.content_type,
            "filename": event.filename,
            "created_at": now,
        }

    async def _new_document(
        self, event: UploadCompleted, session: Session, now: datetime, *, document_id: str, name: str, path: str,
        tags: list[str], title: str | None,
    ) -> dict[str, Any]:
        version_row = self._version_row(event, document_id, 1, now)
        await self.documents.insert_version(version_row, session)
        document = {
            "_id": document_id,
            "account_id": event.account_id,
            "name": name,
            **search_keys(name),
            "title": title,
            "tags": tags,
            "path": path,
            "created_at": now,
            "current_version": 1,
            "size": event.size,
            "sha256": event.sha256,
            "content_type": event.content_type,
            "modified_at": now,
        }
        await self.documents.insert_document(document, session)
        await self._version_recorded(document, version_row, session,
                                     conflict_of=event.document_id if document_id != event.document_id else None)
        return document

    async def _version_recorded(
        self, document: dict[str, Any], version_row: dict[str, Any], session: Session, *, conflict_of: str | None = None
    ) -> None:
        """Tell downstream (the indexer) which bytes are now a version of which document."""
        await self.events.outbox.add(
            FileVersionRecorded(
                account_id=document["account_id"], document_id=document["_id"], version=version_row["version"],
                upload_id=version_row["upload_id"], bucket=version_row["bucket"], key=version_row["key"],
                filename=version_row["filename"], content_type=version_row["content_type"],
                size=version_row["size"], sha256=version_row["sha256"], title=document.get("title"),
                tags=document.get("tags", []), path=document.get("path", "/"), conflict_of=conflict_of,
            ),
            session=session,
        )

    async def _modified(self, document: dict[str, Any], session: Session, *, actor_id: str) -> None:
        """A new current version: `file.modified`, a change entry, then the plan's retention cap."""
        await self.events.outbox.add(
            FileModified(
                account_id=document["account_id"], document_id=document["_id"], version=document["current_version"],
                name=document["name"], size=document["size"], actor_id=actor_id,
            ),
            session=session,
        )
        await self._change(session, "modified", document)
        await self._enforce_retention(document, session)

    async def _enforce_retention(self, document: dict[str, Any], session: Session) -> list[int]:
        plan = await self.accounts.plan_of(document["account_id"], session)
        cap = self.version_caps.get(plan, self.version_caps["free"])
        versions = await self.documents.versions_of(document["_id"], session)
        prune = versions_to_prune([v["version"] for v in versions], cap)
        if not prune:
            return []
        removed = [v for v in versions if v["version"] in prune]
        freed = freed_objects(removed, [v for v in versions if v["version"] not in prune])
        await self.documents.delete_versions(document["_id"], prune, session)
        await self.documents.add_garbage(freed.keys, session)
        await self.events.outbox.add(
            FileDeleted(account_id=document["account_id"], document_id=document["_id"], versions=prune,
                        size=freed.size, whole_document=False),
            session=session,
        )
        self.garbage_added.set()
        return prune

    async def restore_version(self, account_id: str, document_id: str, number: int) -> dict[str, Any]:
        """Make version `number` current again as a new version pointing at the same S3 object."""

        async def write(session: Session) -> dict[str, Any]:
            document = await self._live(account_id, document_id, session)
            old = await self.documents.version(document_id, number, session)
            if old is None:
                raise VersionNotFound(number)
            version = document["current_version"] + 1
            now = datetime.now(UTC)
            version_row = {**old, "_id": f"{document_id}:{version}", "version": version,
                           "upload_id": f"restore:{document_id}:{version}", "restored_from": number, "created_at": now}
            await self.documents.insert_version(version_row, session)
            current = {"current_version": version, "size": old["size"], "sha256": old["sha256"],
                       "content_type": old["content_type"], "modified_at": now}
            await self.documents.update_document(document_id, current, session)
            document.update(current)
            await self._version_recorded(document, version_row, session)
            await self._modified(document, session, actor_id=account_id)
            return document

        return await self._transaction(write)

    # --- details ---------------------------------------------------------------------

    async def _live(self, account_id: str, document_id: str, session: Session) -> dict[str, Any]:
        document = await self.documents.owned(account_id, document_id, session)
        if document is None:
            raise DocumentNotFound(document_id)
        if document.get("trashed"):
            raise InTrash(document_id)
        return document

    async def update_details(
        self, account_id: str, document_id: str, *, name: str | None = None, tags: list[str] | None = None,
        path: str | None = None,
    ) -> dict[str, Any]:
        """Rename, re-tag or move a document: `file.details-changed` and one change entry per aspect."""
        new_name = check_name(name) if name is not None else None
        new_tags = check_tags(tags) if tags is not None else None
        new_path = check_path(path) if path is not None else None

        async def write(session: Session) -> dict[str, Any]:
            document = await self._live(account_id, document_id, session)
            changes: dict[str, Any] = {}
            kinds = []
            if new_name is not None and new_name != document["name"]:
                changes.update(name=new_name, **search_keys(new_name))
                kinds.append("renamed")
            if new_path is not None and new_path != document.get("path", "/"):
                changes["path"] = new_path
                kinds.append("moved")
            if new_tags is not None and new_tags != sorted(document.get("tags", [])):
                changes["tags"] = new_tags
                kinds.append("tagged")
            if not changes:
                return document
            await self.documents.update_document(document_id, changes, session)
            document.update(changes)
            await self.events.outbox.add(
                FileDetailsChanged(account_id=account_id, document_id=document_id, name=document["name"],
                                   path=document.get("path", "/"), tags=document.get("tags", [])),
                session=session,
            )
            for kind in kinds:
                await self._change(session, kind, document)
            return document

        return await self._transaction(write)

    # --- trash -----------------------------------------------------------------------

    async def trash(self, account_id: str, document_id: str) -> dict[str, Any]:
        async def write(session: Session) -> dict[str, Any]:
            document = await self.documents.owned(account_id, document_id, session)
            if document is None:
                raise DocumentNotFound(document_id)
            if document.get("trashed"):
                return document
            changes = {"trashed": True, "trashed_at": datetime.now(UTC), "purge_claimed_at": EPOCH}
            await self.documents.update_document(document_id, changes, session)
            document.update(changes)
            await self.events.outbox.add(FileTrashed(account_id=account_id, document_id=document_id), session=session)
            await self._change(session, "trashed", document)
            return document

        return await self._transaction(write)

    async def untrash(self, account_id: str, document_id: str) -> dict[str, Any]:
        async def write(session: Session) -> dict[str, Any]:
            document = await self.documents.owned(account_id, document_id, session)
            if document is None:
                raise DocumentNotFound(document_id)
            if not document.get("trashed"):
                raise NotInTrash(document_id)
            if document["trashed_at"] <= datetime.now(UTC) - self.trash_retention:
                raise TrashExpired(document_id)
            changes = {"trashed": False, "trashed_at": None}
            await self.documents.update_document(document_id, changes, session)
            document.update(changes)
            await self.events.outbox.add(FileRestored(account_id=account_id, document_id=document_id), session=session)
            await self._change(session, "restored", document)
            return document

        return await self._transaction(write)

    async def _purge(self, document: dict[str, Any], session: Session) -> bool:
        """Delete the document, its versions and (after commit) its S3 objects; `file.deleted` once."""
        if not await self.documents.delete_document(document["_id"], session):
            return False  # another replica purged it first
        versions = await self.documents.versions_of(document["_id"], session)
        freed = freed_objects(versions, [])
        await self.documents.delete_versions(document["_id"], [v["version"] for v in versions], session)
        await self.documents.add_garbage(freed.keys, session)
        await self.events.outbox.add(
            FileDeleted(account_id=document["account_id"], document_id=document["_id"],
                        versions=sorted(v["version"] for v in versions), size=freed.size, whole_document=True),
            session=session,
        )
        await self._change(session, "deleted", document)
        self.garbage_added.set()
        return True

    async def purge_now(self, account_id: str, document_id: str) -> None:
        """Delete for good, now (from the trash, or straight away)."""

        async def write(session: Session) -> None:
            document = await self.documents.owned(account_id, document_id, session)
            if document is None or not await self._purge(document, session):
                raise DocumentNotFound(document_id)

        await self._transaction(write)

    async def purge_expired(self, claimant: str, *, lease: timedelta = timedelta(minutes=5), limit: int = 1000) -> int:
        """Purge documents trashed longer ago than the retention. Each is claimed first with
        find_one_and_update, so two replicas never work on the same one; the purge itself is a
        transaction that does nothing when the document is already gone."""
        purged = 0
        cutoff = datetime.now(UTC) - self.trash_retention
        for _ in range(limit):
            claimed = await self.documents.claim_expired(cutoff, claimant=claimant, lease=lease)
            if claimed is None:
                break

            async def write(session: Session, claimed: dict[str, Any] = claimed) -> bool:
                current = await self.documents.get(claimed["_id"], session)
                if current is None or not current.get("trashed") or current.get("purge_claimed_by") != claimant:
                    return False  # restored, or taken over meanwhile
                return await self._purge(current, session)

            purged += bool(await self._transaction(write))
        return purged

"""Document use cases: versions from uploads, details, trash, purge, and the reads behind the API.

Every state change runs in one transaction (`uow.run`; the upload consumer: `uow.run_once_each`,
a batch of uploads at a time) with its events and its change-feed entry. S3 objects a change
frees are recorded in the same transaction (`s3_garbage`) and deleted after commit by
housekeeping, which is woken then.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from docstore_events import (
    DocumentIndexFailed,
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
    UploadCompleted,
)
from docstore_events.activity import FileDownloadUrlIssued
from docstore_events.indexing import IndexEvent, index_outcomes_in
from docstore_kit.pagination import InvalidCursor, cursor_offset, decode_cursor, encode_cursor, offset_cursor
from docstore_messaging.tracing import handling
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.adapters.storage import ObjectStore
from docstore_metadata.domain import full_text
from docstore_metadata.domain.consistency import recorded_from_state, version_recorded_event_id
from docstore_metadata.domain.documents import (
    DocumentNotFound,
    NotOwner,
    SearchCriteria,
    VersionNotFound,
    VersionRecorded,
    change_entry,
    check_criteria,
    check_name,
    check_path,
    check_tags,
    compare,
    conflict_copy_id,
    conflict_copy_name,
    current_of,
    detail_changes,
    freed_objects,
    is_conflict,
    live,
    new_document,
    next_version,
    numbered,
    replaced_version_row,
    restored_from_trash,
    restored_version_row,
    search_keys,
    trashed,
    version_row,
    versions_to_prune,
)
from docstore_metadata.service_layer.folders import free_name, name_holder, settle_clash
from docstore_metadata.service_layer.sharing import owned, visible

Tx = Transaction[Repositories]
Doc = dict[str, Any]
CONSUMER = "metadata"


@dataclass
class _Created:
    """New documents of one batch of uploads, held back to be written together: a sync of
    thousands of new files was five round trips per upload inside one transaction, and on a
    loaded database metadata recorded a few uploads a second, far behind the upload service
    (bench/sync.py's growing sync of 9,000 files). `ids` keeps every id held, written or not."""

    ids: set[str] = field(default_factory=set)
    documents: list[Doc] = field(default_factory=list)
    versions: list[Doc] = field(default_factory=list)
    changes: list[Doc] = field(default_factory=list)

    def add(self, document: Doc, version: Doc, change: Doc) -> None:
        self.ids.add(document["_id"])
        self.documents.append(document)
        self.versions.append(version)
        self.changes.append(change)

    async def write(self, tx: Tx) -> None:
        """What is held, in three writes and a counter step per account; then nothing is held."""
        if not self.documents:
            return
        # Their folders exist as folders (listed, renamed, moved) from their first document on.
        now = self.documents[0]["created_at"]
        for account_id in sorted({d["account_id"] for d in self.documents}):
            paths = [d["path"] for d in self.documents if d["account_id"] == account_id]
            await tx.repos.folders.ensure_paths(account_id, paths, now)
        await tx.repos.documents.insert_new(self.documents, self.versions)
        await tx.repos.documents.add_changes(self.changes)
        self.documents, self.versions, self.changes = [], [], []


@dataclass(frozen=True)
class Limits:
    version_caps: Mapping[str, int]
    """Versions a document keeps, per plan (unknown plans: the free cap)."""
    trash_retention: timedelta = timedelta(days=30)
    page_size_max: int = 200
    search_scan_budget: int = 2000
    changes_wait_max_seconds: float = 30
    changes_poll_seconds: float = 0.25


class Documents:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        limits: Limits,
        *,
        garbage_written: Callable[[], None] = lambda: None,
        store: ObjectStore | None = None,
    ) -> None:
        """`reads`: repositories outside any transaction; `garbage_written`: wakes housekeeping;
        `store` signs download URLs."""
        self.uow = uow
        self.store = store
        self.reads = reads
        self.limits = limits
        self.garbage_written = garbage_written

    # --- versions ----------------------------------------------------------------------

    async def stored_bytes(self, account_id: str, sha256: str) -> Mapping[str, Any] | None:
        """Dedupe (upload asks): a version of the account's own documents with these bytes, or None.
        Only the account's own versions are searched: a hash must never tell one account whether
        another stores some bytes (that would let anyone probe for a file they can name), nor let
        it claim bytes it cannot show it has."""
        return await self.reads.documents.version_with_bytes(account_id, sha256)

    async def version_object(self, document_id: str, version: int) -> Mapping[str, Any] | None:
        """The stored version row (bucket, key, size, sha256) of a document's version, or None."""
        return await self.reads.documents.version(document_id, version)

    async def record_upload(self, event: UploadCompleted) -> VersionRecorded:
        """A completed upload becomes a version (see `_record`), in one transaction."""
        return await self.uow.run(lambda tx: self._record(tx, event))

    async def record_upload_once(self, event_id: str, event: UploadCompleted) -> bool:
        """Once per event id; False when this event was recorded before."""
        return bool(await self.record_uploads_once([(event_id, event)]))

    async def record_uploads_once(self, uploads: Sequence[tuple[str, UploadCompleted]]) -> frozenset[str]:
        """The consumer's batch form: (event id, event) pairs recorded in order, in one
        transaction, each once; returns the event ids recorded now."""

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            # An event twice in one batch counts once.
            todo = [(event_id, event) for event_id, event in dict(uploads).items() if event_id in fresh]
            existing = await tx.repos.documents.get_many([event.document_id for _, event in todo])
            # One live document per name in a folder: the names of this batch's new documents
            # that are taken, one question per account (see `_free_name`).
            fresh_events = [event for _, event in todo if event.document_id not in existing]
            held: set[tuple[str, str, str]] = set()
            for account_id in sorted({event.account_id for event in fresh_events}):
                places = [(e.path, e.filename) for e in fresh_events if e.account_id == account_id]
                held |= {(account_id, *place) for place in await tx.repos.documents.live_named(account_id, places)}
                held |= {(account_id, *place) for place in await tx.repos.folders.live_named(account_id, places)}
            created = _Created()
            for event_id, event in todo:
                with handling(event_id):  # file.version-recorded joins this upload's trace
                    if event.document_id in existing or event.document_id in created.ids:
                        # A document that exists (or was created earlier in this batch): the
                        # general path, after what is held back is written (events stay in order).
                        await created.write(tx)
                        await self._record(tx, event)
                    else:
                        now = datetime.now(UTC)
                        name = event.filename
                        if (event.account_id, event.path, name) in held:
                            name = await self._free_name(tx, event, name, self._copy_names(event, name, now), held)
                        held.add((event.account_id, event.path, name))
                        self._hold_new(tx, event, created, now, name=name)
            await created.write(tx)

        return await self.uow.run_once_each(
            consumer=CONSUMER, event_ids=[event_id for event_id, _ in uploads], work=work
        )

    async def record_index_outcomes_once(self, outcomes: Sequence[tuple[str, IndexEvent]]) -> frozenset[str]:
        """The consumer's batch form for the indexer's outcomes: each (event id, event) once, in
        one transaction; the document keeps its latest version's outcome (`domain.full_text`).
        An outcome for a document gone meanwhile, or not the account's, changes nothing."""

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            # One read and one write for the batch (the indexer reports on every new file).
            todo = [
                one
                for event_id, event in dict(outcomes).items()
                if event_id in fresh
                for one in index_outcomes_in(event)
            ]
            documents = await tx.repos.documents.get_many([event.document_id for event in todo])
            changed: dict[str, dict[str, Any]] = {}
            for event in todo:
                document = documents.get(event.document_id)
                if document is None or document["account_id"] != event.account_id:
                    continue
                if not full_text.supersedes(document.get("full_text"), event.version):
                    continue
                failed = event.reason if isinstance(event, DocumentIndexFailed) else None
                document["full_text"] = full_text.outcome(event.version, failed_reason=failed)
                changed[event.document_id] = {"full_text": document["full_text"]}
            await tx.repos.documents.update_documents(changed)

        return await self.uow.run_once_each(
            consumer=CONSUMER, event_ids=[event_id for event_id, _ in outcomes], work=work
        )

    async def taken(self, account_id: str, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Upload asks before a grant for a new document: which (folder, name) places a live
        document of the account holds (place -> its id)."""
        return {
            **await self.reads.folders.live_named(account_id, places),
            **await self.reads.documents.live_named(account_id, places),
        }

    async def plans_of(self, owners: set[str]) -> dict[str, str]:
        """The plan of each of these accounts (the owners of documents an answer shows)."""
        return {owner: await self.reads.owners.plan_of(owner) for owner in owners}

    async def _record(self, tx: Tx, event: UploadCompleted) -> VersionRecorded:
        """* a document id not seen before: a new document at version 1;
        * an existing document with no base version, or with the current one as base: its next
          version, with `file.modified`;
        * an existing document whose current version is not the base (another write came first):
          first write wins, and this upload becomes a new document, a conflict copy, in the same folder.
        """
        documents = tx.repos.documents
        document = await documents.get(event.document_id)
        if document is not None and document["account_id"] != event.account_id:
            raise NotOwner(event.document_id)
        now = datetime.now(UTC)
        if document is not None and is_conflict(document, event.base_version):
            copy_id = conflict_copy_id(event.upload_id)
            wanted = conflict_copy_name(document["name"], now, copy_id[:6])
            fallbacks = (numbered(wanted, n) for n in itertools.count(2))
            copy = await self._new_document(
                tx,
                event,
                now,
                document_id=copy_id,
                name=await self._free_name(tx, event, wanted, fallbacks, path=document.get("path", "/")),
                path=document.get("path", "/"),
                tags=document.get("tags", []),
                title=document.get("title"),
            )
            await self._change(
                tx,
                "conflict",
                copy,
                now,
                conflict_of=document["_id"],
                base_version=event.base_version,
                current_version_of_original=document["current_version"],
            )
            return VersionRecorded(copy_id, 1, True, conflict_of=document["_id"])
        if document is None:
            created = _Created()
            name = await self._free_name(tx, event, event.filename, self._copy_names(event, event.filename, now))
            self._hold_new(tx, event, created, now, name=name)
            await created.write(tx)
            return VersionRecorded(event.document_id, 1, True)
        row = version_row(event, event.document_id, next_version(document["current_version"]), now)
        await self._make_current(tx, document, row, now, actor_id=event.actor_id or event.account_id)
        return VersionRecorded(event.document_id, row["version"], False)

    @staticmethod
    def _copy_names(event: UploadCompleted, name: str, now: datetime) -> Iterator[str]:
        """The names a new document takes when its own is taken: a conflict-copy name, then numbered."""
        first = conflict_copy_name(name, now, event.document_id[:6])
        return itertools.chain([first], (numbered(first, n) for n in itertools.count(2)))

    @staticmethod
    async def _free_name(
        tx: Tx,
        event: UploadCompleted,
        wanted: str,
        fallbacks: Iterator[str],
        held: set[tuple[str, str, str]] | None = None,
        *,
        path: str | None = None,
    ) -> str:
        """`wanted`, or the first of `fallbacks` that no live document of the account (nor one
        `held` for this batch) has in the folder. Upload refuses a grant for a taken name (409),
        but two grants for one new name can race: the second to complete must not become a
        silent duplicate, so it is created under a conflict-copy name, in the feed like any
        other new document (the sync client downloads it as such)."""
        folder = event.path if path is None else path
        held = held or set()
        for name in itertools.chain([wanted], fallbacks):
            if (event.account_id, folder, name) in held:
                continue
            if await name_holder(tx, event.account_id, folder, name) is None:  # a document or a folder
                return name
        raise AssertionError("unreachable: the fallbacks never end")

    def _hold_new(self, tx: Tx, event: UploadCompleted, created: _Created, now: datetime, *, name: str) -> None:
        """`_record` for an upload of a document id not seen before, its writes held back in
        `created` and written with the others of the batch (`_Created.write`): a new document at
        version 1 named `name` (see `_free_name`), its `file.version-recorded` and its "created" change."""
        row = version_row(event, event.document_id, 1, now)
        document = new_document(
            event,
            now,
            document_id=event.document_id,
            name=name,
            path=event.path,
            tags=event.tags,
            title=event.title,
        )
        created.add(document, row, change_entry("created", document, now))
        self._version_recorded(tx, document, row)

    async def _new_document(
        self,
        tx: Tx,
        event: UploadCompleted,
        now: datetime,
        *,
        document_id: str,
        name: str,
        path: str,
        tags: list[str],
        title: str | None,
    ) -> Doc:
        row = version_row(event, document_id, 1, now)
        await tx.repos.documents.insert_version(row)
        document = new_document(event, now, document_id=document_id, name=name, path=path, tags=tags, title=title)
        await tx.repos.documents.insert_document(document)
        self._version_recorded(
            tx, document, row, conflict_of=event.document_id if document_id != event.document_id else None
        )
        return document

    async def _make_current(self, tx: Tx, document: Doc, row: Doc, now: datetime, *, actor_id: str) -> None:
        """Store version `row` and make it the document's current one: `file.modified`, a change
        entry, then the plan's retention cap."""
        await tx.repos.documents.insert_version(row)
        current = current_of(row, now)
        await tx.repos.documents.update_document(document["_id"], current)
        document.update(current)
        self._version_recorded(tx, document, row)
        tx.emit(
            FileModified(
                account_id=document["account_id"],
                document_id=document["_id"],
                version=document["current_version"],
                name=document["name"],
                size=document["size"],
                actor_id=actor_id,
            )
        )
        await self._change(tx, "modified", document, now)
        await self._enforce_retention(tx, document)

    @staticmethod
    def _version_recorded(
        tx: Tx, document: Mapping[str, Any], row: Mapping[str, Any], *, conflict_of: str | None = None
    ) -> None:
        """Tell downstream (the indexer) which bytes are now a version of which document, under
        an id derived from the version (the consistency check can publish it again: issue 32)."""
        tx.emit(
            recorded_from_state(document, row, conflict_of=conflict_of),
            event_id=version_recorded_event_id(document["_id"], row["version"]),
        )

    @staticmethod
    async def _change(tx: Tx, kind: str, document: Mapping[str, Any], now: datetime, **extra: Any) -> None:
        await tx.repos.documents.add_change(change_entry(kind, document, now, **extra))

    async def _enforce_retention(self, tx: Tx, document: Mapping[str, Any]) -> list[int]:
        plan = await tx.repos.owners.plan_of(document["account_id"])
        cap = self.limits.version_caps.get(plan, self.limits.version_caps["free"])
        versions = await tx.repos.documents.versions_of(document["_id"])
        prune = versions_to_prune([v["version"] for v in versions], cap)
        if not prune:
            return []
        removed = [v for v in versions if v["version"] in prune]
        kept = [v for v in versions if v["version"] not in prune]
        freed = freed_objects(removed, kept + await self._sharing_objects(tx, document["_id"], removed))
        await tx.repos.documents.delete_versions(document["_id"], prune)
        await tx.repos.documents.add_garbage(freed.keys)
        tx.emit(
            FileDeleted(
                account_id=document["account_id"],
                document_id=document["_id"],
                versions=prune,
                size=freed.size,
                whole_document=False,
            )
        )
        tx.after_commit(self.garbage_written)
        return prune

    @staticmethod
    async def _sharing_objects(tx: Tx, document_id: str, removed: Sequence[Mapping[str, Any]]) -> list[Doc]:
        """Other documents' versions pointing at an object of `removed` (a move that replaced
        made the holder's newest version of the moved document's object): those objects stay."""
        objects = sorted({(v["bucket"], v["key"]) for v in removed})
        return await tx.repos.documents.versions_of_objects(objects, excluding=document_id) if objects else []

    async def restore_version(self, account_id: str, document_id: str, number: int) -> Doc:
        """Make version `number` current again as a new version pointing at the same S3 object."""

        async def work(tx: Tx) -> Doc:
            await owned(tx.repos, account_id, document_id, "restore a version of it")
            document = dict(live(await tx.repos.documents.owned(account_id, document_id), document_id))
            old = await tx.repos.documents.version(document_id, number)
            if old is None:
                raise VersionNotFound(number)
            now = datetime.now(UTC)
            row = restored_version_row(old, document_id, document["current_version"] + 1, now)
            await self._make_current(tx, document, row, now, actor_id=account_id)
            return document

        return await self.uow.run(work)

    # --- details -------------------------------------------------------------------------

    async def update_details(
        self,
        account_id: str,
        document_id: str,
        *,
        name: str | None = None,
        tags: list[str] | None = None,
        path: str | None = None,
        on_clash: str | None = None,
    ) -> Doc:
        """Rename, re-tag or move a document: `file.details-changed` and one change entry per aspect.
        A name another document or a folder holds there is 409 `NameClash` (with the choices),
        or with `on_clash`: `keep_both` (a numbered name), `replace` (`_replace`: this document's
        bytes become the holder's newest version, and the holder is the answer), `skip` (nothing
        changes)."""

        async def work(tx: Tx) -> Doc:
            await owned(tx.repos, account_id, document_id, "rename, move or re-tag it")
            new_name = check_name(name) if name is not None else None
            new_tags = check_tags(tags) if tags is not None else None
            new_path = check_path(path) if path is not None else None
            document = dict(live(await tx.repos.documents.owned(account_id, document_id), document_id))
            changes, kinds = detail_changes(document, name=new_name, tags=new_tags, path=new_path)
            if not changes:
                return document
            if "name" in changes or "path" in changes:  # one live document or folder per name in a folder
                folder = changes.get("path", document.get("path", "/"))
                wanted = changes.get("name", document["name"])
                settled = await settle_clash(tx, account_id, folder, wanted, document_id, on_clash, replaceable=True)
                if settled is None:
                    return document  # skip
                if settled.replaces is not None:
                    return await self._replace(tx, document, settled.replaces)
                if settled.name != document["name"]:
                    changes.update(name=settled.name, **search_keys(settled.name))
                    if "renamed" not in kinds:
                        kinds.insert(0, "renamed")
                if "path" in changes:
                    await tx.repos.folders.ensure_paths(account_id, [folder], datetime.now(UTC))
            await tx.repos.documents.update_document(document_id, changes)
            document.update(changes)
            tx.emit(
                FileDetailsChanged(
                    account_id=account_id,
                    document_id=document_id,
                    name=document["name"],
                    path=document.get("path", "/"),
                    tags=document.get("tags", []),
                )
            )
            now = datetime.now(UTC)
            for kind in kinds:
                await self._change(tx, kind, document, now)
            return document

        return await self.uow.run(work)

    async def _replace(self, tx: Tx, moved: Doc, holder_id: str) -> Doc:
        """A move onto a document's name with `replace`: the moved document's current bytes become
        the holder's newest version (same S3 object, no byte copied; the holder keeps its id,
        versions, shares and links), and the moved document is gone (a move leaves nothing
        behind): deleted for good, its other versions' objects freed, the object the holder now
        points at kept (`freed_objects` sees the holder's version). Quota: that object's bytes
        stay counted once, on the moved document's upload; `file.deleted` frees the rest."""
        account_id = moved["account_id"]
        holder = dict(live(await tx.repos.documents.owned(account_id, holder_id), holder_id))
        source = await tx.repos.documents.version(moved["_id"], moved["current_version"])
        if source is None:
            raise VersionNotFound(moved["current_version"])
        now = datetime.now(UTC)
        row = replaced_version_row(source, holder_id, holder["current_version"] + 1, now)
        await self._make_current(tx, holder, row, now, actor_id=account_id)
        await self._purge(tx, moved)
        return holder

    # --- trash ---------------------------------------------------------------------------

    async def delete(self, account_id: str, document_id: str, *, permanent: bool = False) -> None:
        """To the trash; with `permanent`, delete for good now (from the trash, or straight away)."""
        if permanent:
            await self.purge_now(account_id, document_id)
        else:
            await self.trash(account_id, document_id)

    async def trash(self, account_id: str, document_id: str) -> Doc:
        async def work(tx: Tx) -> Doc:
            await owned(tx.repos, account_id, document_id, "delete it")
            document = await tx.repos.documents.owned(account_id, document_id)
            if document is None:
                raise DocumentNotFound(document_id)
            if document.get("trashed"):
                return document
            now = datetime.now(UTC)
            changes = trashed(now)
            await tx.repos.documents.update_document(document_id, changes)
            document.update(changes)
            tx.emit(FileTrashed(account_id=account_id, document_id=document_id))
            await self._change(tx, "trashed", document, now)
            return document

        return await self.uow.run(work)

    async def untrash(self, account_id: str, document_id: str) -> Doc:
        async def work(tx: Tx) -> Doc:
            document = await tx.repos.documents.owned(account_id, document_id)
            if document is None:
                raise DocumentNotFound(document_id)
            now = datetime.now(UTC)
            changes = restored_from_trash(document, now, self.limits.trash_retention)
            # Its name taken meanwhile by a live document: it comes back as "name 2", never a duplicate.
            path = document.get("path", "/")
            name = await free_name(tx, account_id, path, document["name"])
            await tx.repos.folders.ensure_paths(account_id, [path], now)
            if name != document["name"]:
                changes |= {"name": name, **search_keys(name)}
            await tx.repos.documents.update_document(document_id, changes)
            document.update(changes)
            tx.emit(FileRestored(account_id=account_id, document_id=document_id))
            await self._change(tx, "restored", document, now)
            return document

        return await self.uow.run(work)

    async def _purge(self, tx: Tx, document: Mapping[str, Any]) -> bool:
        """Delete the document, its versions and (after commit) its S3 objects; `file.deleted` once."""
        documents = tx.repos.documents
        if not await documents.delete_document(document["_id"]):
            return False  # another replica purged it first
        versions = await documents.versions_of(document["_id"])
        freed = freed_objects(versions, await self._sharing_objects(tx, document["_id"], versions))
        await documents.delete_versions(document["_id"], [v["version"] for v in versions])
        await documents.add_garbage(freed.keys)
        tx.emit(
            FileDeleted(
                account_id=document["account_id"],
                document_id=document["_id"],
                versions=sorted(v["version"] for v in versions),
                size=freed.size,
                whole_document=True,
            )
        )
        await self._change(tx, "deleted", document, datetime.now(UTC))
        tx.after_commit(self.garbage_written)
        return True

    async def purge_now(self, account_id: str, document_id: str) -> None:
        """Delete for good, now (from the trash, or straight away)."""

        async def work(tx: Tx) -> None:
            await owned(tx.repos, account_id, document_id, "delete it")
            document = await tx.repos.documents.owned(account_id, document_id)
            if document is None or not await self._purge(tx, document):
                raise DocumentNotFound(document_id)

        await self.uow.run(work)

    async def purge_claimed(self, document_id: str, claimant: str) -> bool:
        """Purge a document `claimant` claimed (a deleted account's, `account_purge.py`); nothing
        when another replica took it over or purged it meanwhile."""

        async def work(tx: Tx) -> bool:
            current = await tx.repos.documents.get(document_id)
            if current is None or current.get("purge_claimed_by") != claimant:
                return False
            return await self._purge(tx, current)

        return bool(await self.uow.run(work))

    async def purge_expired(self, claimant: str, *, lease: timedelta = timedelta(minutes=5), limit: int = 1000) -> int:
        """Purge documents trashed longer ago than the retention. Each is claimed first (outside any
        transaction), so two replicas never work on the same one; the purge itself is a transaction
        that does nothing when the document was restored, taken over or purged meanwhile."""
        purged = 0
        cutoff = datetime.now(UTC) - self.limits.trash_retention
        for _ in range(limit):
            claimed = await self.reads.documents.claim_expired(cutoff, claimant=claimant, lease=lease)
            if claimed is None:
                break

            async def work(tx: Tx, document_id: str = claimed["_id"]) -> bool:
                current = await tx.repos.documents.get(document_id)
                if current is None or not current.get("trashed") or current.get("purge_claimed_by") != claimant:
                    return False  # restored, or taken over meanwhile
                return await self._purge(tx, current)

            purged += bool(await self.uow.run(work))
        return purged

    # --- reads ---------------------------------------------------------------------------

    async def get(self, account_id: str, document_id: str) -> Doc:
        """A document the caller owns or that is shared with them (anyone else's: 404, like a missing one)."""
        return dict((await visible(self.reads, account_id, document_id)).document)

    async def page(
        self,
        account_id: str,
        *,
        sort: str,
        order: str,
        limit: int,
        cursor: str | None,
        path: str | None,
        trashed: bool,
    ) -> tuple[list[Doc], str | None]:
        folder = check_path(path) if path is not None else None
        return await self.reads.documents.page(
            account_id,
            sort=sort,
            order=order,
            limit=min(limit, self.limits.page_size_max),
            cursor=cursor,
            path=folder,
            trashed=trashed,
        )

    async def search(
        self,
        account_id: str,
        criteria: SearchCriteria,
        *,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Doc], str | None]:
        return await self.reads.documents.search(
            account_id,
            check_criteria(criteria),
            limit=min(limit, self.limits.page_size_max),
            cursor=cursor,
            scan_budget=self.limits.search_scan_budget,
        )

    async def versions(
        self, account_id: str, document_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[Doc], str | None]:
        """One page of the versions of a document the caller may see, newest first, and the next
        page's cursor."""
        skip = cursor_offset(cursor)
        await visible(self.reads, account_id, document_id)
        rows = await self.reads.documents.versions_of(document_id, skip=skip, limit=limit + 1)
        return rows[:limit], offset_cursor(skip + limit) if len(rows) > limit else None

    async def download_url(self, account_id: str, document_id: str, version: int | None, *, expires_in: int) -> str:
        """A signed URL for the bytes of version `version` (None: the current one), named as the document."""
        document = await self.get(account_id, document_id)
        stored = await self.reads.documents.version(document_id, version or document["current_version"])
        if stored is None:
            raise VersionNotFound(version)
        assert self.store is not None, "bootstrap gives Documents an ObjectStore"
        url = await self.store.download_url(
            bucket=stored["bucket"], key=stored["key"], filename=document["name"], expires_in=expires_in
        )
        issued = FileDownloadUrlIssued(
            account_id=account_id,
            document_id=document_id,
            owner_id=document["account_id"],
            version=int(stored.get("version") or version or document["current_version"]),
            name=document["name"],
        )

        async def record(tx: Tx) -> None:
            tx.emit(issued)  # for the audit trail; the URL is handed out only once this committed

        await self.uow.run(record)
        return url

    async def changes(self, account_id: str, cursor: str | None, limit: int, wait: float) -> tuple[list[Doc], str]:
        """Entries after the feed position `cursor` (None: the start), oldest first, and the position
        after them; with `wait`, none is waited for up to that long. The wait polls the changes
        collection, so a change written by any replica ends it."""
        after = changes_position(cursor)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait, self.limits.changes_wait_max_seconds)
        while True:
            rows = await self.reads.documents.changes_since(account_id, after, limit)
            if rows or loop.time() >= deadline:
                return rows, encode_cursor({"seq": rows[-1]["seq"] if rows else after})
            await asyncio.sleep(min(self.limits.changes_poll_seconds, max(deadline - loop.time(), 0)))

    async def compare(
        self, account_id: str, files: list[tuple[str, str]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Client (path, sha256) pairs against the account's live documents (`domain.documents.compare`)."""
        return compare(files, await self.reads.documents.live_documents(account_id))


def changes_position(cursor: str | None) -> int:
    """The last seq a change-feed cursor has seen (0 without one); InvalidCursor for anything else."""
    if cursor is None:
        return 0
    seq = decode_cursor(cursor).get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidCursor("That position does not belong to the list of changes. Start again from the beginning.")
    return seq

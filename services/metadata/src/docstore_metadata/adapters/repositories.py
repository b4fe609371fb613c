"""MongoDB collections of metadata: documents, versions, the change feed and S3 garbage.

Every repository is bound to one session (`Repo(db, session)`; None: outside any transaction),
so its methods take none: the unit of work (`Repositories`, below) builds them per transaction.

Listings and searches are keyset-paginated on one compound index each (`page`, `search`): this
module decides which index range a request reads and encodes its cursor; how the rows of that range
are read (one limited query, or bounded windows for SecantusDB) is the `Listing` strategy of
`adapters/keyset.py`, chosen once at composition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_messaging.in_slices import find_in
from docstore_metadata.adapters.account_deletion import AccountDeletionRepository
from docstore_metadata.adapters.account_projection import AccountProjection, Authority, Owners
from docstore_metadata.adapters.folders import FolderRepository
from docstore_metadata.adapters.keyset import Listing, Position, Scan
from docstore_metadata.adapters.sharing import SharingRepository
from docstore_metadata.domain.cursors import SORTS, Cursor, decode_cursor, encode_cursor, listing_kind
from docstore_metadata.domain.documents import (
    SearchCriteria,
    matches,
    name_key,
    prefix_upper_bound,
    rarest_trigram,
    trigrams,
)

Session = AsyncClientSession | None
Doc = dict[str, Any]


class DocumentRepository:
    def __init__(self, db: AsyncDatabase[Any], listing: Listing, session: Session = None) -> None:
        """`listing` reads the index ranges of `page` and `search` (`keyset.choose_listing`)."""
        self.documents = db["documents"]
        self.versions = db["versions"]
        self.changes = db["changes"]
        self.counters = db["change_counters"]
        self.garbage = db["s3_garbage"]
        self.listing = listing
        self.session = session

    async def ensure_indexes(self) -> None:
        for field in SORTS.values():
            await self.documents.create_index([("account_id", 1), ("trashed", 1), (field, 1), ("_id", 1)])
            await self.documents.create_index([("account_id", 1), ("trashed", 1), ("path", 1), (field, 1), ("_id", 1)])
        await self.documents.create_index([("account_id", 1), ("name_trigrams", 1), ("name_lower", 1), ("_id", 1)])
        await self.documents.create_index([("account_id", 1), ("tags", 1), ("modified_at", 1), ("_id", 1)])
        await self.documents.create_index([("account_id", 1), ("content_type", 1), ("modified_at", 1), ("_id", 1)])
        await self.documents.create_index([("trashed", 1), ("trashed_at", 1)])
        await self.versions.create_index([("document_id", ASCENDING), ("version", DESCENDING)], unique=True)
        await self.versions.create_index("upload_id", unique=True)
        # Dedupe: an account's own versions by the sha256 of their bytes (never across accounts).
        await self.versions.create_index([("account_id", 1), ("sha256", 1)])
        await self.versions.create_index("key")  # objects two documents share (`versions_of_objects`)
        await self.changes.create_index([("account_id", 1), ("seq", 1)], unique=True)

    # --- single documents and versions -------------------------------------------------

    async def get(self, document_id: str) -> Doc | None:
        return await self.documents.find_one({"_id": document_id}, session=self.session)

    async def owned(self, account_id: str, document_id: str) -> Doc | None:
        """The document if `account_id` owns it; None otherwise (absent or someone else's)."""
        return await self.documents.find_one({"_id": document_id, "account_id": account_id}, session=self.session)

    async def insert_document(self, document: Mapping[str, Any]) -> None:
        await self.documents.insert_one(dict(document), session=self.session)

    async def update_document(self, document_id: str, changes: Mapping[str, Any]) -> None:
        await self.documents.update_one({"_id": document_id}, {"$set": dict(changes)}, session=self.session)

    async def update_documents(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        """`update_document` for several documents (id -> fields to set), in one write."""
        if changes:
            await self.documents.bulk_write(
                [UpdateOne({"_id": i}, {"$set": dict(fields)}) for i, fields in changes.items()],
                ordered=False,
                session=self.session,
            )

    async def delete_document(self, document_id: str) -> bool:
        result = await self.documents.delete_one({"_id": document_id}, session=self.session)
        return result.deleted_count == 1

    async def insert_version(self, version: Mapping[str, Any]) -> None:
        await self.versions.insert_one(dict(version), session=self.session)

    async def live_at(self, account_id: str, path: str, name: str) -> Doc | None:
        """The account's live document called `name` in folder `path` (one read on the listing index)."""
        return await self.documents.find_one(
            {"account_id": account_id, "trashed": False, "path": path, "name_lower": name_key(name), "name": name},
            session=self.session,
        )

    async def live_named(self, account_id: str, places: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The account's live documents at these (folder, name) places: place -> document id.
        Names are stored in NFC (`check_name`), so an equal name is an equal string.

        One read per folder on the listing index (account, trashed, path, name key), its names'
        keys in `$in` slices: MongoDB reads only those keys. An `$or` of the places, the shape
        this had, is a scan of the whole account on SecantusDB (measured with 8,000 documents
        in one folder and a batch of 1,000 new names: 227 s as one `$or`, 0.2 s this way)."""
        wanted = set(places)
        by_folder: dict[str, set[str]] = {}
        for path, name in wanted:
            by_folder.setdefault(path, set()).add(name)
        found: dict[tuple[str, str], str] = {}
        for path, names in sorted(by_folder.items()):
            rows = find_in(
                self.documents,
                "name_lower",
                sorted({name_key(name) for name in names}),
                where={"account_id": account_id, "trashed": False, "path": path},
                projection={"path": 1, "name": 1},
                session=self.session,
            )
            # A key is case-folded: keep only the exact names asked about.
            found |= {place: row["_id"] async for row in rows if (place := (row["path"], row["name"])) in wanted}
        return found

    async def get_many(self, document_ids: Sequence[str]) -> dict[str, Doc]:
        """The documents of these ids that exist, by id."""
        found = find_in(self.documents, "_id", set(document_ids), session=self.session)
        return {row["_id"]: row async for row in found}

    async def insert_new(self, documents: Sequence[Mapping[str, Any]], versions: Sequence[Mapping[str, Any]]) -> None:
        """New documents and their first versions, two writes in all (a batch of uploads)."""
        if versions:
            await self.versions.insert_many([dict(v) for v in versions], session=self.session)
        if documents:
            await self.documents.insert_many([dict(d) for d in documents], session=self.session)

    async def versions_of(self, document_id: str, *, skip: int = 0, limit: int | None = None) -> list[Doc]:
        """The document's versions, newest first; `skip` and `limit` read one page of them."""
        found = self.versions.find({"document_id": document_id}, session=self.session).sort("version", DESCENDING)
        if skip:
            found = found.skip(skip)
        if limit is not None:
            found = found.limit(limit)
        return await found.to_list(None)

    async def version(self, document_id: str, version: int) -> Doc | None:
        return await self.versions.find_one({"document_id": document_id, "version": version}, session=self.session)

    async def version_with_bytes(self, account_id: str, sha256: str) -> Doc | None:
        """A version of one of `account_id`'s own documents whose bytes have this sha256 (the newest
        first), or None. The account is part of the query: another account's bytes are never found."""
        found = self.versions.find({"account_id": account_id, "sha256": sha256}, session=self.session)
        rows = await found.sort("created_at", DESCENDING).limit(1).to_list(None)
        return rows[0] if rows else None

    async def versions_of_objects(self, objects: Sequence[tuple[str, str]], *, excluding: str) -> list[Doc]:
        """Versions of documents other than `excluding` pointing at one of these (bucket, key)
        objects (a move that replaced shares one object between two documents)."""
        wanted = set(objects)
        found = self.versions.find(
            {"key": {"$in": sorted({key for _, key in wanted})}, "document_id": {"$ne": excluding}},
            {"document_id": 1, "version": 1, "bucket": 1, "key": 1, "size": 1},
            session=self.session,
        )
        return [v for v in await found.to_list(None) if (v["bucket"], v["key"]) in wanted]

    async def delete_versions(self, document_id: str, numbers: list[int]) -> None:
        await self.versions.delete_many({"document_id": document_id, "version": {"$in": numbers}}, session=self.session)

    async def live_documents(self, account_id: str) -> list[Doc]:
        """Every live document of the account, for a sync compare (name, folder, checksum, version)."""
        projection = {"name": 1, "path": 1, "sha256": 1, "current_version": 1, "modified_at": 1}
        return await self.documents.find(
            {"account_id": account_id, "trashed": False}, projection, session=self.session
        ).to_list(None)

    # --- S3 objects to delete after commit (an outbox for S3) --------------------------

    async def add_garbage(self, objects: list[tuple[str, str]]) -> None:
        now = datetime.now(UTC)
        for bucket, key in objects:
            await self.garbage.update_one(
                {"_id": f"{bucket}/{key}"},
                {"$set": {"bucket": bucket, "key": key, "at": now}},
                upsert=True,
                session=self.session,
            )

    async def pending_garbage(self, limit: int = 100) -> list[Doc]:
        return await self.garbage.find({}, session=self.session).limit(limit).to_list(limit)

    async def forget_garbage(self, garbage_id: str) -> None:
        await self.garbage.delete_one({"_id": garbage_id}, session=self.session)

    # --- trash purge -------------------------------------------------------------------

    async def claim_expired(self, cutoff: datetime, *, claimant: str, lease: timedelta) -> Doc | None:
        """Claim one document trashed before `cutoff` for purging; a claim older than `lease` is stale.

        Outside any transaction (a repository built with no session): the claim must stand on its
        own, so two replicas never work on the same document."""
        now = datetime.now(UTC)
        return await self.documents.find_one_and_update(
            {
                "trashed": True,
                "trashed_at": {"$lt": cutoff},
                "purge_claimed_at": {"$lt": now - lease},  # EPOCH until claimed
            },
            {"$set": {"purge_claimed_at": now, "purge_claimed_by": claimant}},
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )

    # --- change feed -------------------------------------------------------------------

    async def next_seq(self, account_id: str) -> int:
        counter = await self.counters.find_one_and_update(
            {"_id": account_id},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        assert counter is not None  # an upsert that returns the document after
        return int(counter["seq"])

    async def add_change(self, change: Mapping[str, Any]) -> int:
        seq = await self.next_seq(change["account_id"])
        await self.changes.insert_one(
            {"_id": f"{change['account_id']}:{seq}", "seq": seq, **change}, session=self.session
        )
        return seq

    async def add_changes(self, changes: Sequence[Mapping[str, Any]]) -> list[int]:
        """`add_change` for several entries, in order: one counter step per account and one insert
        (a batch of a hundred uploads was two hundred round trips)."""
        if not changes:
            return []
        counts: dict[str, int] = {}
        for change in changes:
            counts[change["account_id"]] = counts.get(change["account_id"], 0) + 1
        last: dict[str, int] = {}
        for account_id, count in counts.items():
            counter = await self.counters.find_one_and_update(
                {"_id": account_id},
                {"$inc": {"seq": count}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=self.session,
            )
            assert counter is not None  # an upsert that returns the document after
            last[account_id] = int(counter["seq"]) - count
        rows = []
        for change in changes:
            account_id = change["account_id"]
            last[account_id] += 1
            rows.append({"_id": f"{account_id}:{last[account_id]}", "seq": last[account_id], **change})
        await self.changes.insert_many(rows, session=self.session)
        return [row["seq"] for row in rows]

    async def changes_since(self, account_id: str, cursor: int, limit: int) -> list[Doc]:
        return await (
            self.changes.find({"account_id": account_id, "seq": {"$gt": cursor}}, session=self.session)
            .sort("seq", ASCENDING)
            .limit(limit)
        ).to_list(limit)

    async def latest_seq(self, account_id: str) -> int:
        counter = await self.counters.find_one({"_id": account_id}, session=self.session)
        return int(counter["seq"]) if counter else 0

    # --- listing -----------------------------------------------------------------------

    async def page(
        self,
        account_id: str,
        *,
        sort: str = "modified",
        order: str = "desc",
        limit: int,
        cursor: str | None,
        path: str | None = None,
        trashed: bool = False,
    ) -> tuple[list[Doc], str | None]:
        """One page of the account's documents (or its trash), keyset-paginated on (sort key, id)."""
        field = SORTS[sort]
        kind = listing_kind(sort, order, trashed=trashed, path=path)
        decoded = decode_cursor(cursor, kind) if cursor else None
        equal: dict[str, Any] = {"account_id": account_id, "trashed": trashed}
        if path is not None:
            equal["path"] = path
        scan = Scan(kind, equal, field, ASCENDING if order == "asc" else DESCENDING, listing=True)
        after = (decoded.value, decoded.document_id) if decoded else None
        rows, window, _ = await self.listing.read(scan, after, limit + 1, decoded.resume if decoded else None)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(
                Cursor(kind, last[field], last["_id"], self.listing.cursor_window(scan, window))
            )
        return items, next_cursor

    # --- metadata search ----------------------------------------------------------------

    @staticmethod
    def _driving_scan(account_id: str, criteria: SearchCriteria) -> Scan:
        """The one index range a search walks; every other criterion is checked on the rows it yields."""
        kind = f"search:{criteria.fingerprint()}"
        if criteria.name and criteria.name_match == "prefix":
            prefix = name_key(criteria.name)
            return Scan(
                kind,
                {"account_id": account_id, "trashed": False},
                "name_lower",
                ASCENDING,
                low=prefix,
                high=prefix_upper_bound(prefix),
            )
        if criteria.name:
            gram = rarest_trigram(trigrams(criteria.name))
            return Scan(kind, {"account_id": account_id, "name_trigrams": gram}, "name_lower", ASCENDING)
        if criteria.tags:
            return Scan(kind, {"account_id": account_id, "tags": criteria.tags[0]}, "modified_at", DESCENDING)
        if criteria.content_type:
            return Scan(
                kind, {"account_id": account_id, "content_type": criteria.content_type}, "modified_at", DESCENDING
            )
        if criteria.modified_from or criteria.modified_to:
            return Scan(
                kind,
                {"account_id": account_id, "trashed": False},
                "modified_at",
                DESCENDING,
                low=criteria.modified_from,
                high=criteria.modified_to,
            )
        return Scan(
            kind,
            {"account_id": account_id, "trashed": False},
            "created_at",
            DESCENDING,
            low=criteria.created_from,
            high=criteria.created_to,
        )

    async def search(
        self,
        account_id: str,
        criteria: SearchCriteria,
        *,
        limit: int,
        cursor: str | None,
        scan_budget: int = 2000,
    ) -> tuple[list[Doc], str | None]:
        """Documents meeting every criterion, walking one index range in batches.

        A request reads at most `scan_budget` index rows: when the budget runs out first, the page
        holds what was found so far (perhaps nothing) and a cursor to go on from.
        """
        scan = self._driving_scan(account_id, criteria)
        decoded = decode_cursor(cursor, scan.kind) if cursor else None
        after: Position | None = (decoded.value, decoded.document_id) if decoded else None
        window = decoded.resume if decoded else None
        found: list[Doc] = []
        scanned = 0
        batch = max(limit + 1, 100)
        exhausted = False
        while len(found) <= limit and scanned < scan_budget:
            rows, window, exhausted = await self.listing.read(scan, after, min(batch, scan_budget - scanned), window)
            for row in rows:
                scanned += 1
                after = (row[scan.field], row["_id"])
                if matches(row, criteria):
                    found.append(row)
                    if len(found) > limit:
                        break
            if len(found) > limit or exhausted:
                break
        items = found[:limit]
        carry = self.listing.cursor_window(scan, window)
        if len(found) > limit:
            last = items[-1]
            return items, encode_cursor(Cursor(scan.kind, last[scan.field], last["_id"], carry))
        if exhausted or after is None:
            return items, None
        return items, encode_cursor(Cursor(scan.kind, after[0], after[1], carry))


@dataclass(frozen=True)
class Repositories:
    """Metadata's repositories, all bound to one session (one transaction), as the unit of work
    hands them to a use case (`tx.repos`)."""

    projection: AccountProjection
    owners: Owners
    """What documents, sharing, links and the purge read of an account: the projection, else the
    accounts service (issue 36)."""
    documents: DocumentRepository
    sharing: SharingRepository
    deletion: AccountDeletionRepository
    folders: FolderRepository


def repositories(db: AsyncDatabase[Any], listing: Listing, authority: Authority) -> Callable[[Session], Repositories]:
    """What `EventRuntime.unit_of_work` calls per transaction: the repositories bound to `session`.
    `authority`: who answers for an account the projection does not know (the accounts service)."""

    def bound(session: Session) -> Repositories:
        projection = AccountProjection(db, session)
        return Repositories(
            projection=projection,
            owners=Owners(projection, authority),
            documents=DocumentRepository(db, listing, session),
            sharing=SharingRepository(db, session),
            deletion=AccountDeletionRepository(db, session),
            folders=FolderRepository(db, session),
        )

    return bound


async def ensure_indexes(db: AsyncDatabase[Any], listing: Listing) -> None:
    """Every index metadata's queries rely on (idempotent; run at start)."""
    repos = repositories(db, listing, _NoAuthority())(None)
    await repos.projection.ensure_indexes()
    await repos.documents.ensure_indexes()
    await repos.sharing.ensure_indexes()
    await repos.deletion.ensure_indexes()
    await repos.folders.ensure_indexes()


class _NoAuthority:
    """For `ensure_indexes`, which reads no account."""

    async def by_id(self, account_id: str) -> Doc | None:
        return None

    async def by_username(self, username: str) -> Doc | None:
        return None

    async def plan_of(self, account_id: str) -> str:
        return "free"

    async def by_email(self, address: str) -> Doc | None:
        return None

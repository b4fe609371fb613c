"""MongoDB collections of metadata: accounts, documents, versions, the change feed and S3 garbage.

Listings and searches are keyset-paginated on one compound index each (`page`, `search`): this
module decides which index range a request reads and encodes its cursor; how the rows of that range
are read (one limited query, or bounded windows for SecantusDB) is the `Listing` strategy of
`adapters/keyset.py`, chosen once at composition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from docstore_metadata.adapters.keyset import EPOCH, Listing, Position, Scan, Trace
from docstore_metadata.domain.accounts import Account
from docstore_metadata.domain.cursors import (
    SORTS,
    Cursor,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    listing_kind,
)
from docstore_metadata.domain.documents import (
    SearchCriteria,
    matches,
    name_key,
    prefix_upper_bound,
    rarest_trigram,
    trigrams,
)

__all__ = ["EPOCH", "AccountRepository", "DocumentRepository", "InvalidCursor", "search_keys"]

Session = AsyncClientSession | None


class AccountRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.collection = db["accounts"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("username", unique=True)

    async def add(self, account: Account, session: AsyncClientSession) -> None:
        await self.collection.insert_one(
            {
                "_id": account.id,
                "username": account.username,
                "email": account.email,
                "plan": account.plan,
                "home_region": account.home_region,
                "password_hash": account.password_hash,
                "created_at": account.created_at,
                "status": "active",
                "replica_version": 1,
            },
            session=session,
        )

    async def by_username(self, username: str, session: Session = None) -> dict[str, Any] | None:
        """The account with its home in this region that has `username` (replicas live elsewhere)."""
        return await self.collection.find_one({"username": username}, session=session)

    async def by_id(self, account_id: str, session: Session = None) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": account_id}, session=session)

    async def plan_of(self, account_id: str, session: Session = None) -> str:
        """The account's plan; an account this region does not know (a replica, say) counts as free."""
        account = await self.collection.find_one({"_id": account_id}, {"plan": 1}, session=session)
        return (account or {}).get("plan") or "free"

    async def set_plan(self, account_id: str, plan: str, session: AsyncClientSession) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": {"plan": plan}}, session=session)


def search_keys(name: str) -> dict[str, Any]:
    """The derived fields a document's name is listed and searched by."""
    return {"name_lower": name_key(name), "name_trigrams": trigrams(name)}


class DocumentRepository:
    def __init__(self, db: AsyncDatabase[Any], listing: Listing) -> None:
        """`listing` reads the index ranges of `page` and `search` (`keyset.choose_listing`)."""
        self.documents = db["documents"]
        self.versions = db["versions"]
        self.changes = db["changes"]
        self.counters = db["change_counters"]
        self.garbage = db["s3_garbage"]
        self.listing = listing

    @property
    def trace(self) -> Trace | None:
        """When a list, every documents query of a listing or search (filter, sort) is appended to
        it: tests explain them."""
        return self.listing.trace

    @trace.setter
    def trace(self, value: Trace | None) -> None:
        self.listing.trace = value

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
        await self.changes.create_index([("account_id", 1), ("seq", 1)], unique=True)

    # --- single documents and versions -------------------------------------------------

    async def get(self, document_id: str, session: Session = None) -> dict[str, Any] | None:
        return await self.documents.find_one({"_id": document_id}, session=session)

    async def owned(self, account_id: str, document_id: str, session: Session = None) -> dict[str, Any] | None:
        """The document if `account_id` owns it; None otherwise (absent or someone else's)."""
        return await self.documents.find_one({"_id": document_id, "account_id": account_id}, session=session)

    async def insert_document(self, document: dict[str, Any], session: AsyncClientSession) -> None:
        await self.documents.insert_one(
            {"trashed": False, "trashed_at": None, "purge_claimed_at": EPOCH, **document}, session=session
        )

    async def update_document(self, document_id: str, changes: dict[str, Any], session: AsyncClientSession) -> None:
        await self.documents.update_one({"_id": document_id}, {"$set": changes}, session=session)

    async def delete_document(self, document_id: str, session: AsyncClientSession) -> bool:
        result = await self.documents.delete_one({"_id": document_id}, session=session)
        return result.deleted_count == 1

    async def insert_version(self, version: dict[str, Any], session: AsyncClientSession) -> None:
        await self.versions.insert_one(version, session=session)

    async def versions_of(self, document_id: str, session: Session = None) -> list[dict[str, Any]]:
        return await self.versions.find({"document_id": document_id}, session=session).sort("version", DESCENDING).to_list(None)

    async def version(self, document_id: str, version: int, session: Session = None) -> dict[str, Any] | None:
        return await self.versions.find_one({"document_id": document_id, "version": version}, session=session)

    async def version_by_upload(self, upload_id: str, session: Session = None) -> dict[str, Any] | None:
        return await self.versions.find_one({"upload_id": upload_id}, session=session)

    async def delete_versions(self, document_id: str, numbers: list[int], session: AsyncClientSession) -> None:
        await self.versions.delete_many({"document_id": document_id, "version": {"$in": numbers}}, session=session)

    async def live_documents(self, account_id: str) -> list[dict[str, Any]]:
        """Every live document of the account, for a sync compare (name, folder, checksum, version)."""
        projection = {"name": 1, "path": 1, "sha256": 1, "current_version": 1, "modified_at": 1}
        return await self.documents.find({"account_id": account_id, "trashed": False}, projection).to_list(None)

    # --- S3 objects to delete after commit (an outbox for S3) --------------------------

    async def add_garbage(self, objects: list[tuple[str, str]], session: AsyncClientSession) -> None:
        now = datetime.now(UTC)
        for bucket, key in objects:
            await self.garbage.update_one(
                {"_id": f"{bucket}/{key}"}, {"$set": {"bucket": bucket, "key": key, "at": now}}, upsert=True,
                session=session,
            )

    async def pending_garbage(self, limit: int = 100) -> list[dict[str, Any]]:
        return await self.garbage.find({}).limit(limit).to_list(limit)

    async def forget_garbage(self, garbage_id: str) -> None:
        await self.garbage.delete_one({"_id": garbage_id})

    # --- trash purge -------------------------------------------------------------------

    async def claim_expired(self, cutoff: datetime, *, claimant: str, lease: timedelta) -> dict[str, Any] | None:
        """Claim one document trashed before `cutoff` for purging; a claim older than `lease` is stale."""
        now = datetime.now(UTC)
        return await self.documents.find_one_and_update(
            {
                "trashed": True,
                "trashed_at": {"$lt": cutoff},
                "purge_claimed_at": {"$lt": now - lease},  # EPOCH until claimed
            },
            {"$set": {"purge_claimed_at": now, "purge_claimed_by": claimant}},
            return_document=ReturnDocument.AFTER,
        )

    # --- change feed -------------------------------------------------------------------

    async def next_seq(self, account_id: str, session: AsyncClientSession) -> int:
        counter = await self.counters.find_one_and_update(
            {"_id": account_id}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(counter["seq"])

    async def add_change(self, change: dict[str, Any], session: AsyncClientSession) -> int:
        seq = await self.next_seq(change["account_id"], session)
        await self.changes.insert_one({"_id": f"{change['account_id']}:{seq}", "seq": seq, **change}, session=session)
        return seq

    async def changes_since(self, account_id: str, cursor: int, limit: int) -> list[dict[str, Any]]:
        return await (
            self.changes.find({"account_id": account_id, "seq": {"$gt": cursor}}).sort("seq", ASCENDING).limit(limit)
        ).to_list(limit)

    async def latest_seq(self, account_id: str) -> int:
        counter = await self.counters.find_one({"_id": account_id})
        return int(counter["seq"]) if counter else 0


    # --- listing -----------------------------------------------------------------------

    async def page(
        self, account_id: str, *, sort: str = "modified", order: str = "desc", limit: int, cursor: str | None,
        path: str | None = None, trashed: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the account's documents (or its trash), keyset-paginated on (sort key, id)."""
        field = SORTS[sort]
        kind = listing_kind(sort, order, trashed=trashed, path=path)
        decoded = decode_cursor(cursor, kind) if cursor else None
        equal: dict[str, Any] = {"account_id": account_id, "trashed": trashed}
        if path is not None:
            equal["path"] = path
        scan = Scan(kind, equal, field, ASCENDING if order == "asc" else DESCENDING, listing=True)
        after = (decoded.value, decoded.document_id) if decoded else None
        rows, window, _ = await self.listing.read(scan, after, limit + 1, decoded.window if decoded else None)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(kind, last[field], last["_id"], self.listing.cursor_window(scan, window)))
        return items, next_cursor

    # --- metadata search ----------------------------------------------------------------

    @staticmethod
    def _driving_scan(account_id: str, criteria: SearchCriteria) -> Scan:
        """The one index range a search walks; every other criterion is checked on the rows it yields."""
        kind = f"search:{criteria.fingerprint()}"
        if criteria.name and criteria.name_match == "prefix":
            prefix = name_key(criteria.name)
            return Scan(kind, {"account_id": account_id, "trashed": False}, "name_lower", ASCENDING,
                        low=prefix, high=prefix_upper_bound(prefix))
        if criteria.name:
            gram = rarest_trigram(trigrams(criteria.name))
            return Scan(kind, {"account_id": account_id, "name_trigrams": gram}, "name_lower", ASCENDING)
        if criteria.tags:
            return Scan(kind, {"account_id": account_id, "tags": criteria.tags[0]}, "modified_at", DESCENDING)
        if criteria.content_type:
            return Scan(kind, {"account_id": account_id, "content_type": criteria.content_type}, "modified_at", DESCENDING)
        if criteria.modified_from or criteria.modified_to:
            return Scan(kind, {"account_id": account_id, "trashed": False}, "modified_at", DESCENDING,
                        low=criteria.modified_from, high=criteria.modified_to)
        return Scan(kind, {"account_id": account_id, "trashed": False}, "created_at", DESCENDING,
                    low=criteria.created_from, high=criteria.created_to)

    async def search(
        self, account_id: str, criteria: SearchCriteria, *, limit: int, cursor: str | None, scan_budget: int = 2000,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Documents meeting every criterion, walking one index range in batches.

        A request reads at most `scan_budget` index rows: when the budget runs out first, the page
        holds what was found so far (perhaps nothing) and a cursor to go on from.
        """
        scan = self._driving_scan(account_id, criteria)
        decoded = decode_cursor(cursor, scan.kind) if cursor else None
        after: Position | None = (decoded.value, decoded.document_id) if decoded else None
        window = decoded.window if decoded else None
        found: list[dict[str, Any]] = []
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

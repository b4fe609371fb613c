"""MongoDB collections of metadata: accounts, documents, versions, the change feed and S3 garbage.

Every read of a listing or a search is a keyset query on a compound index that starts with the
account: equality fields, then one sort key, then `_id` as the tie-breaker. No skip, no count.
A cursor page is two queries, never an `$or`: the rows that tie with the last key (`key == v,
_id beyond`) and the rows beyond it (`key beyond v`); both are one index range each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from docstore_metadata.domain.accounts import Account
from docstore_metadata.domain.cursors import (
    SORTS,
    TIME_SORTS,
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

__all__ = ["AccountRepository", "DocumentRepository", "InvalidCursor"]

Session = AsyncIOMotorClientSession | None

# No document predates this: the time-window walk of a listing stops here.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FIRST_WINDOW = 60.0  # seconds: the first time window a listing page looks into
MIN_WINDOW = 1.0


class AccountRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.collection = db["accounts"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("username", unique=True)

    async def add(self, account: Account, session: AsyncIOMotorClientSession) -> None:
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

    async def set_plan(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> None:
        await self.collection.update_one({"_id": account_id}, {"$set": {"plan": plan}}, session=session)


@dataclass(frozen=True)
class _Scan:
    """One keyset-ordered index range: equality fields, then `field` in `direction` within [low, high)."""

    kind: str
    equal: dict[str, Any]
    field: str
    direction: int
    low: Any = None
    high: Any = None


def search_keys(name: str) -> dict[str, Any]:
    """The derived fields a document's name is listed and searched by."""
    return {"name_lower": name_key(name), "name_trigrams": trigrams(name)}


class DocumentRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.documents = db["documents"]
        self.versions = db["versions"]
        self.changes = db["changes"]
        self.counters = db["change_counters"]
        self.garbage = db["s3_garbage"]
        # When a list, every documents query (filter, sort) is appended: tests explain them.
        self.trace: list[tuple[dict[str, Any], list[tuple[str, int]]]] | None = None

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

    async def insert_document(self, document: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.documents.insert_one(
            {"trashed": False, "trashed_at": None, "purge_claimed_at": EPOCH, **document}, session=session
        )

    async def update_document(self, document_id: str, changes: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.documents.update_one({"_id": document_id}, {"$set": changes}, session=session)

    async def delete_document(self, document_id: str, session: AsyncIOMotorClientSession) -> bool:
        result = await self.documents.delete_one({"_id": document_id}, session=session)
        return result.deleted_count == 1

    async def insert_version(self, version: dict[str, Any], session: AsyncIOMotorClientSession) -> None:
        await self.versions.insert_one(version, session=session)

    async def versions_of(self, document_id: str, session: Session = None) -> list[dict[str, Any]]:
        return await self.versions.find({"document_id": document_id}, session=session).sort("version", DESCENDING).to_list(None)

    async def version(self, document_id: str, version: int, session: Session = None) -> dict[str, Any] | None:
        return await self.versions.find_one({"document_id": document_id, "version": version}, session=session)

    async def version_by_upload(self, upload_id: str, session: Session = None) -> dict[str, Any] | None:
        return await self.versions.find_one({"upload_id": upload_id}, session=session)

    async def delete_versions(self, document_id: str, numbers: list[int], session: AsyncIOMotorClientSession) -> None:
        await self.versions.delete_many({"document_id": document_id, "version": {"$in": numbers}}, session=session)

    async def live_documents(self, account_id: str) -> list[dict[str, Any]]:
        """Every live document of the account, for a sync compare (name, folder, checksum, version)."""
        projection = {"name": 1, "path": 1, "sha256": 1, "current_version": 1, "modified_at": 1}
        return await self.documents.find({"account_id": account_id, "trashed": False}, projection).to_list(None)

    # --- S3 objects to delete after commit (an outbox for S3) --------------------------

    async def add_garbage(self, objects: list[tuple[str, str]], session: AsyncIOMotorClientSession) -> None:
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

    async def next_seq(self, account_id: str, session: AsyncIOMotorClientSession) -> int:
        counter = await self.counters.find_one_and_update(
            {"_id": account_id}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(counter["seq"])

    async def add_change(self, change: dict[str, Any], session: AsyncIOMotorClientSession) -> int:
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

    async def _find(self, query: dict[str, Any], sort: list[tuple[str, int]], limit: int) -> list[dict[str, Any]]:
        if self.trace is not None:
            self.trace.append((query, sort))
        return await self.documents.find(query).sort(sort).limit(limit).to_list(limit)

    async def _after(self, scan: _Scan, after: tuple[Any, str] | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows of `scan` strictly after the key `after`, in order: ties first, then beyond."""
        d, field = scan.direction, scan.field
        beyond = "$gt" if d == ASCENDING else "$lt"
        sort = [(field, d), ("_id", d)] if field != "_id" else [("_id", d)]
        rows: list[dict[str, Any]] = []
        if after is not None and field != "_id":
            rows = await self._find({**scan.equal, field: after[0], "_id": {beyond: after[1]}}, [("_id", d)], limit)
        if len(rows) < limit:
            bounds: dict[str, Any] = {}
            if scan.low is not None:
                bounds["$gte"] = scan.low
            if scan.high is not None:
                bounds["$lt"] = scan.high
            if after is not None:
                key = after[1] if field == "_id" else after[0]
                bounds.pop("$gte" if d == ASCENDING else "$lt", None)
                bounds[beyond] = key
            query = {**scan.equal, field: bounds} if bounds else dict(scan.equal)
            rows += await self._find(query, sort, limit - len(rows))
        return rows

    async def _windowed(
        self, scan: _Scan, after: tuple[Any, str] | None, need: int, window: float | None
    ) -> tuple[list[dict[str, Any]], float]:
        """Rows of a time-sorted scan found by walking time windows outward from the cursor.

        Each query is a bounded index range, so a page costs about the same at 100 or 100k
        documents on a server that reads a whole range before applying the limit (SecantusDB);
        on MongoDB each window is an ordinary index-bounded query. The window doubles while it
        finds too little, and the cursor carries the width that filled the page into the next one.
        """
        width = window or FIRST_WINDOW
        ceiling = datetime.now(UTC) + timedelta(seconds=1)
        floor = EPOCH
        rows: list[dict[str, Any]] = []
        filled_first = False
        first = True
        if scan.direction == DESCENDING:
            high = after[0] if after else ceiling
            while len(rows) < need and high > floor:
                low = max(high - timedelta(seconds=width), floor)
                rows += await self._find({**scan.equal, scan.field: {"$gte": low, "$lt": high}},
                                         [(scan.field, DESCENDING), ("_id", DESCENDING)], need - len(rows))
                filled_first = first and len(rows) >= need
                first = False
                if len(rows) < need:
                    high, width = low, width * 2
        else:
            low, inclusive = (after[0], False) if after else (floor, True)
            while len(rows) < need and low < ceiling:
                high = min(low + timedelta(seconds=width), ceiling)
                rows += await self._find({**scan.equal, scan.field: {"$gte" if inclusive else "$gt": low, "$lt": high}},
                                         [(scan.field, ASCENDING), ("_id", ASCENDING)], need - len(rows))
                filled_first = first and len(rows) >= need
                first = False
                if len(rows) < need:
                    low, inclusive, width = high, True, width * 2
        return rows, max(width / 2 if filled_first else width, MIN_WINDOW)

    async def page(
        self, account_id: str, *, sort: str = "modified", order: str = "desc", limit: int, cursor: str | None,
        path: str | None = None, trashed: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the account's documents (or its trash), keyset-paginated on (sort key, id)."""
        field = SORTS[sort]
        kind = listing_kind(sort, order, trashed=trashed, path=path)
        decoded = decode_cursor(cursor, kind) if cursor else None
        after = (decoded.value, decoded.document_id) if decoded else None
        equal: dict[str, Any] = {"account_id": account_id, "trashed": trashed}
        if path is not None:
            equal["path"] = path
        scan = _Scan(kind, equal, field, ASCENDING if order == "asc" else DESCENDING)
        want = limit + 1
        window = None
        if sort in TIME_SORTS:
            rows: list[dict[str, Any]] = []
            if after is not None:
                rows = await self._find({**equal, field: after[0], "_id": {"$gt" if order == "asc" else "$lt": after[1]}},
                                        [("_id", scan.direction)], want)
            if len(rows) < want:
                more, window = await self._windowed(scan, after, want - len(rows), decoded.window if decoded else None)
                rows += more
        else:
            rows = await self._after(scan, after, want)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(kind, last[field], last["_id"], window))
        return items, next_cursor

    # --- metadata search ----------------------------------------------------------------

    @staticmethod
    def _driving_scan(account_id: str, criteria: SearchCriteria) -> _Scan:
        """The one index range a search walks; every other criterion is checked on the rows it yields."""
        kind = f"search:{criteria.fingerprint()}"
        if criteria.name and criteria.name_match == "prefix":
            prefix = name_key(criteria.name)
            return _Scan(kind, {"account_id": account_id, "trashed": False}, "name_lower", ASCENDING,
                         low=prefix, high=prefix_upper_bound(prefix))
        if criteria.name:
            gram = rarest_trigram(trigrams(criteria.name))
            return _Scan(kind, {"account_id": account_id, "name_trigrams": gram}, "name_lower", ASCENDING)
        if criteria.tags:
            return _Scan(kind, {"account_id": account_id, "tags": criteria.tags[0]}, "modified_at", DESCENDING)
        if criteria.content_type:
            return _Scan(kind, {"account_id": account_id, "content_type": criteria.content_type}, "modified_at", DESCENDING)
        if criteria.modified_from or criteria.modified_to:
            return _Scan(kind, {"account_id": account_id, "trashed": False}, "modified_at", DESCENDING,
                         low=criteria.modified_from, high=criteria.modified_to)
        return _Scan(kind, {"account_id": account_id, "trashed": False}, "created_at", DESCENDING,
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
        after = (decoded.value, decoded.document_id) if decoded else None
        found: list[dict[str, Any]] = []
        scanned = 0
        batch = max(limit + 1, 100)
        exhausted = False
        while len(found) <= limit and scanned < scan_budget:
            want = min(batch, scan_budget - scanned)
            rows = await self._after(scan, after, want)
            for row in rows:
                scanned += 1
                after = (row[scan.field], row["_id"])
                if matches(row, criteria):
                    found.append(row)
                    if len(found) > limit:
                        break
            if len(found) > limit:
                break
            if len(rows) < want:
                exhausted = True
                break
        items = found[:limit]
        if len(found) > limit:
            last = items[-1]
            return items, encode_cursor(Cursor(scan.kind, last[scan.field], last["_id"]))
        if exhausted or after is None:
            return items, None
        return items, encode_cursor(Cursor(scan.kind, after[0], after[1]))


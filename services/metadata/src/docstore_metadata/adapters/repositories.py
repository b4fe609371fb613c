"""MongoDB collections of metadata: accounts, documents, versions, the change feed and S3 garbage.

Every read of a listing or a search is a keyset query on a compound index that starts with the
account: equality fields, then one sort key, then `_id` as the tie-breaker. No skip, no count, never
an `$or`: a cursor page reads the rows that tie with the last key (`key == v, _id beyond`), then
bounded windows of the key beyond it (`_walk`), each one index range bounded on both sides, because
SecantusDB reads a whole range before it applies the limit.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorClientSession, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import PyMongoError

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

__all__ = ["AccountRepository", "DocumentRepository", "InvalidCursor"]

Session = AsyncIOMotorClientSession | None

# No document predates this: the time-window walk of a listing stops here.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FIRST_WINDOW = 60.0  # seconds: the first time window a listing page looks into
MIN_WINDOW = 1.0
MAX_SIZE_WINDOW = float(1 << 40)  # bytes: a size window this wide is left open


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


class _TimeKeys:
    """Windows of a date: `width` seconds, doubling; the domain is [EPOCH, now]."""

    first = FIRST_WINDOW

    @staticmethod
    def floor() -> Any:
        return EPOCH

    @staticmethod
    def ceiling() -> Any:
        return datetime.now(UTC) + timedelta(seconds=1)

    @staticmethod
    def successor(value: datetime) -> datetime:
        return value + timedelta(milliseconds=1)  # MongoDB keeps milliseconds

    @staticmethod
    def down(high: datetime, width: float) -> datetime | None:
        low = high - timedelta(seconds=width)
        return None if low <= EPOCH else low

    @staticmethod
    def up(low: datetime, width: float) -> datetime | None:
        high = low + timedelta(seconds=width)
        return None if high > _TimeKeys.ceiling() else high

    @staticmethod
    def wider(width: float) -> float:
        return width * 2

    @staticmethod
    def narrower(width: float) -> float:
        return max(width / 2, MIN_WINDOW)

    @staticmethod
    def carry(width: float) -> float:
        return max(width, MIN_WINDOW)

    @staticmethod
    def span(a: datetime, b: datetime) -> float:
        return max(abs((a - b).total_seconds()), MIN_WINDOW)


class _SizeKeys:
    """Windows of a size in bytes: `width` bytes, doubling; a window past 1 TiB is left open."""

    first = 4096.0

    @staticmethod
    def floor() -> Any:
        return 0

    @staticmethod
    def ceiling() -> Any:
        return None  # unknown: a first page without a remembered edge reads one open range

    @staticmethod
    def successor(value: int) -> int:
        return value + 1

    @staticmethod
    def down(high: int, width: float) -> int | None:
        low = high - int(width)
        return None if low <= 0 or width >= MAX_SIZE_WINDOW else low

    @staticmethod
    def up(low: int, width: float) -> int | None:
        return None if width >= MAX_SIZE_WINDOW else low + int(width)

    @staticmethod
    def wider(width: float) -> float:
        return width * 2

    @staticmethod
    def narrower(width: float) -> float:
        return max(width // 2, 1.0)

    @staticmethod
    def carry(width: float) -> float:
        return min(max(float(int(width)), 1.0), MAX_SIZE_WINDOW)

    @staticmethod
    def span(a: int, b: int) -> float:
        return min(max(float(abs(a - b)), 1.0), MAX_SIZE_WINDOW)


class _NameKeys:
    """Windows of a name key: the rest of the subtree of the names sharing its first `width`
    characters (a trie node); widening goes up one level, narrowing down one. Ascending from `low`:
    [low, next(low[:width])); descending to `high`: [high[:width], high)."""

    first = 8.0

    @staticmethod
    def floor() -> Any:
        return ""

    @staticmethod
    def ceiling() -> Any:
        return None

    @staticmethod
    def successor(value: str) -> str:
        return value + "\x00"  # name keys hold no control characters

    @staticmethod
    def down(high: str, width: float) -> str | None:
        depth = min(int(width), len(high) - 1)
        return high[:depth] if depth > 0 else None

    @staticmethod
    def up(low: str, width: float) -> str | None:
        return prefix_upper_bound(low[: int(width)]) if int(width) > 0 else None

    @staticmethod
    def wider(width: float) -> float:
        return max(float(int(width) - 1), 0.0)

    @staticmethod
    def narrower(width: float) -> float:
        return float(min(int(width) + 1, 1024))

    @staticmethod
    def carry(width: float) -> float:
        return max(float(int(width)), 1.0)

    @staticmethod
    def span(a: str, b: str) -> float:
        # One level below the node both ends share: the page spans two of its children at most,
        # and the rest of the last one's subtree is about a page.
        return float(len(os.path.commonprefix([a, b])) + 1)


_KEYS: dict[str, Any] = {"modified_at": _TimeKeys, "created_at": _TimeKeys, "size": _SizeKeys, "name_lower": _NameKeys}


class DocumentRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.documents = db["documents"]
        self.versions = db["versions"]
        self.changes = db["changes"]
        self.counters = db["change_counters"]
        self.garbage = db["s3_garbage"]
        self.edges = db["listing_edges"]  # per account and listing: where its first page ended
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

    async def _walk(
        self, scan: _Scan, after: tuple[Any, str] | None, need: int, width: float | None,
        *, start: Any = None,
    ) -> tuple[list[dict[str, Any]], float, bool]:
        """Up to `need` rows of `scan` beyond `after` (a key and id, exclusive), in order.

        The rows tying with `after`'s key come first (`key == v, _id beyond`); then the walk reads
        bounded windows of the key outward from there (or from `start`, exclusive, or from the
        domain's end), widening while they hold too little. Every query is one bounded index range,
        so a page costs about the same at 100 or 100k documents on a server that reads a whole range
        before applying the limit (SecantusDB); on MongoDB each window is an ordinary index-bounded
        query. Returns the rows, the width to carry in the cursor (narrower when the first window
        alone filled the page) and whether the scan is exhausted.
        """
        keys, field, d = _KEYS[scan.field], scan.field, scan.direction
        ascending = d == ASCENDING
        sort = [(field, d), ("_id", d)]
        rows: list[dict[str, Any]] = []
        if after is not None:
            rows = await self._find({**scan.equal, field: after[0], "_id": {"$gt" if ascending else "$lt": after[1]}},
                                    [("_id", d)], need)
            if len(rows) >= need:
                return rows, width or keys.first, False
        # The position the next window starts from, and whether it is part of that window.
        if after is not None:
            pos, inclusive = after[0], False
        elif start is not None:
            pos, inclusive = start, False
        else:
            pos, inclusive = (keys.floor(), True) if ascending else (keys.ceiling(), False)
        if ascending and scan.low is not None and (pos is None or pos < scan.low):
            pos, inclusive = scan.low, True
        if not ascending and scan.high is not None and (pos is None or pos >= scan.high):
            pos, inclusive = scan.high, False
        w = width or keys.first
        first = True
        filled_first = False
        while True:
            bounds: dict[str, Any] = {}
            if ascending:
                high = keys.up(pos, w) if pos is not None else None
                if scan.high is not None and (high is None or high >= scan.high):
                    high = scan.high
                    last = True
                else:
                    last = high is None
                if pos is not None:
                    bounds["$gte" if inclusive else "$gt"] = pos
                if high is not None:
                    bounds["$lt"] = high
            else:
                low = keys.down(pos, w) if pos is not None else None
                if scan.low is not None and (low is None or low <= scan.low):
                    low = scan.low
                    last = True
                else:
                    last = low is None
                if low is not None:
                    bounds["$gte"] = low
                if pos is not None:
                    bounds["$lt"] = keys.successor(pos) if inclusive else pos
            rows += await self._find({**scan.equal, field: bounds} if bounds else dict(scan.equal), sort, need - len(rows))
            filled_first = first and len(rows) >= need
            first = False
            if len(rows) >= need:
                return rows, keys.narrower(w) if filled_first else w, False
            if last:
                return rows, w, True
            pos, inclusive = (high, True) if ascending else (low, False)
            w = keys.wider(w)

    async def page(
        self, account_id: str, *, sort: str = "modified", order: str = "desc", limit: int, cursor: str | None,
        path: str | None = None, trashed: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the account's documents (or its trash), keyset-paginated on (sort key, id).

        A first page starts from the edge the last first page of the same listing ended at (one
        bounded range up to it, `listing_edges`), so it does not walk from the end of the key's
        domain to where the account's documents are; the edge is kept up to date as it moves.
        """
        field = SORTS[sort]
        kind = listing_kind(sort, order, trashed=trashed, path=path)
        decoded = decode_cursor(cursor, kind) if cursor else None
        equal: dict[str, Any] = {"account_id": account_id, "trashed": trashed}
        if path is not None:
            equal["path"] = path
        scan = _Scan(kind, equal, field, ASCENDING if order == "asc" else DESCENDING)
        want = limit + 1
        if decoded is not None:
            rows, width, _ = await self._walk(scan, (decoded.value, decoded.document_id), want, decoded.window)
        else:
            rows, width = await self._first_rows(account_id, scan, want)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(kind, last[field], last["_id"], _KEYS[field].carry(width)))
        return items, next_cursor

    async def _first_rows(self, account_id: str, scan: _Scan, want: int) -> tuple[list[dict[str, Any]], float]:
        """The first `want` rows of a listing: up to the remembered edge in one range, then onward."""
        edge_id = f"{account_id}|{scan.kind}"
        edge = await self.edges.find_one({"_id": edge_id})
        if edge is None:
            rows, width, _ = await self._walk(scan, None, want, None)
        else:
            # `$lt` the successor, not `$lte`: SecantusDB 0.7 drops the equal keys of `$lte` on a
            # compound index's non-leading field.
            keys = _KEYS[scan.field]
            bound = {"$lt": keys.successor(edge["value"])} if scan.direction == ASCENDING else {"$gte": edge["value"]}
            rows = await self._find({**scan.equal, scan.field: bound},
                                    [(scan.field, scan.direction), ("_id", scan.direction)], want)
            width = edge["width"]
            if len(rows) < want:
                more, width, _ = await self._walk(scan, None, want - len(rows), width, start=edge["value"])
                rows += more
        if len(rows) == want:
            # The window a page of this account takes now, measured on the page itself: the next
            # page (and a search's first window, `_date_density`) starts at the current density,
            # also after the account grew or shrank.
            width = _KEYS[scan.field].span(rows[0][scan.field], rows[-1][scan.field])
        if len(rows) == want and (edge is None or edge["value"] != rows[-1][scan.field] or edge["width"] != width):
            # A cache: any value is correct (the range up to it starts at the domain's end), so a
            # lost race or a failed write only costs the next first page a longer range.
            with contextlib.suppress(PyMongoError):
                await self.edges.replace_one({"_id": edge_id}, {"value": rows[-1][scan.field], "width": width},
                                             upsert=True)
        return rows, width

    async def _date_density(self, account_id: str, field: str) -> float | None:
        """A first window for a search walking a date: the one that held a first page of the
        account's newest documents (from that listing's edge), instead of ramping up from a minute.
        Only where the walk starts; what it reads does not depend on it."""
        sort = {"modified_at": "modified", "created_at": "created"}.get(field)
        if sort is None:
            return None
        edge = await self.edges.find_one({"_id": f"{account_id}|{listing_kind(sort, 'desc', trashed=False, path=None)}"})
        return float(edge["width"]) if edge else None

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
        width = decoded.window if decoded else await self._date_density(account_id, scan.field)
        found: list[dict[str, Any]] = []
        scanned = 0
        batch = max(limit + 1, 100)
        exhausted = False
        while len(found) <= limit and scanned < scan_budget:
            want = min(batch, scan_budget - scanned)
            rows, width, exhausted = await self._walk(scan, after, want, width)
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
        carry = _KEYS[scan.field].carry(width or _KEYS[scan.field].first)
        if len(found) > limit:
            last = items[-1]
            return items, encode_cursor(Cursor(scan.kind, last[scan.field], last["_id"], carry))
        if exhausted or after is None:
            return items, None
        return items, encode_cursor(Cursor(scan.kind, after[0], after[1], carry))


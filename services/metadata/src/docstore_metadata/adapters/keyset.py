"""How listings and searches read their index range, a page at a time: one interface, two strategies.

Every listing and search is a keyset query on a compound index that starts with the account:
equality fields, then one sort key, then `_id` as the tie-breaker (a `Scan`). No skip, no count,
never an `$or`: a page after a cursor first reads the rows that tie with the cursor's key
(`key == v, _id beyond`), then the rows beyond that key. The strategies differ only in that second
read:

- `PlainKeyset` asks for them in one query, bounded by the scan's range and the cursor, with a
  `limit`. Right for servers that stop reading an index range at the limit (MongoDB): a page costs
  about a page, at any account size.
- `WindowedKeyset` reads bounded windows of the key, widening while they hold too little, and
  remembers where each listing's first page ended (`listing_edges`). For servers that read a whole
  index range before they apply the limit (SecantusDB 0.7, the local platform): there the plain
  query costs ~55 µs per document in the range (5.6 s for a first page at 100k documents,
  `bench/listing.py`).

Both return the same rows in the same order, and share the cursor of `domain.cursors`: the windowed
strategy adds the window that filled the page (`w`), which the plain one neither writes nor reads,
so a cursor handed out under one strategy continues under the other. `choose_listing` picks one
once, when the service starts (`METADATA_LISTING_STRATEGY`); nothing above the repository knows
which.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from docstore_metadata.domain.cursors import listing_kind
from docstore_metadata.domain.documents import EPOCH, prefix_upper_bound

__all__ = [
    "EPOCH",
    "STRATEGIES",
    "Batch",
    "Listing",
    "PlainKeyset",
    "Position",
    "Scan",
    "WindowedKeyset",
    "choose_listing",
    "reads_whole_ranges",
]

log = structlog.get_logger(__name__)

STRATEGIES = ("auto", "windowed", "keyset")

Position = tuple[Any, str]
"""A row's place in a scan: its sort key and its `_id`."""


@dataclass(frozen=True)
class Scan:
    """One keyset-ordered index range: equality fields, then `field` in `direction` within [low, high).

    `kind` names the listing or search a cursor must belong to; `listing` is true for a listing of
    the account's documents (the windowed strategy remembers where its first page ended), false for
    a search."""

    kind: str
    equal: dict[str, Any]
    field: str
    direction: int
    low: Any = None
    high: Any = None
    listing: bool = False


class Batch(NamedTuple):
    """What one read of a scan returned."""

    rows: list[dict[str, Any]]
    window: float | None
    """The strategy's state to read on from (the windowed strategy's key window; None otherwise)."""
    exhausted: bool
    """No row of the scan lies beyond the last one returned."""


class Listing(Protocol):
    """How rows of a `Scan` are read in keyset order. Implementations: `PlainKeyset`, `WindowedKeyset`."""

    name: str

    async def read(self, scan: Scan, after: Position | None, need: int, window: float | None) -> Batch:
        """Up to `need` rows of `scan` beyond `after` (exclusive; None: from the scan's start), in
        order; `window` is the `Batch.window` of the read before, or a cursor's window (None at
        the start of a page with no cursor, or from a cursor that carries none)."""
        ...

    def cursor_window(self, scan: Scan, window: float | None) -> float | None:
        """What a cursor ending a page whose last read returned `window` carries (None: nothing)."""
        ...


class _Reader:
    """The documents collection, read outside any transaction (listings never write)."""

    name = ""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.documents = db["documents"]

    async def _find(self, query: dict[str, Any], sort: list[tuple[str, int]], limit: int) -> list[dict[str, Any]]:
        return await self.documents.find(query).sort(sort).limit(limit).to_list(limit)

    async def _ties(self, scan: Scan, after: Position, need: int) -> list[dict[str, Any]]:
        """The rows sharing `after`'s key, beyond its `_id` (the part of a keyset step that would
        otherwise need an `$or`)."""
        d = scan.direction
        query = {**scan.equal, scan.field: after[0], "_id": {"$gt" if d == ASCENDING else "$lt": after[1]}}
        return await self._find(query, [("_id", d)], need)


class PlainKeyset(_Reader):
    """One bounded, limited query beyond the position: for servers that stop a range at its limit."""

    name = "keyset"

    async def read(self, scan: Scan, after: Position | None, need: int, window: float | None) -> Batch:
        """See `Listing.read`; `window` is ignored and none is returned."""
        field, d = scan.field, scan.direction
        rows: list[dict[str, Any]] = []
        if after is not None:
            rows = await self._ties(scan, after, need)
            if len(rows) >= need:
                return Batch(rows, None, False)
        bounds: dict[str, Any] = {}
        if d == ASCENDING:
            start, inclusive = (after[0], False) if after is not None else (scan.low, True)
            if scan.low is not None and (start is None or start < scan.low):
                start, inclusive = scan.low, True
            if start is not None:
                bounds["$gte" if inclusive else "$gt"] = start
            if scan.high is not None:
                bounds["$lt"] = scan.high
        else:
            end = after[0] if after is not None else scan.high
            if scan.high is not None and (end is None or end >= scan.high):
                end = scan.high
            if scan.low is not None:
                bounds["$gte"] = scan.low
            if end is not None:
                bounds["$lt"] = end  # never `$lte`: see the README on SecantusDB 0.7 and `$lte`
        query = {**scan.equal, field: bounds} if bounds else dict(scan.equal)
        rows += await self._find(query, [(field, d), ("_id", d)], need - len(rows))
        return Batch(rows, None, len(rows) < need)

    def cursor_window(self, scan: Scan, window: float | None) -> float | None:
        """None: a plain keyset cursor is the last key and id alone."""
        return None


# --- the windowed strategy -----------------------------------------------------------------

FIRST_WINDOW = 60.0  # seconds: the first time window a listing page looks into
MIN_WINDOW = 1.0
MAX_SIZE_WINDOW = float(1 << 40)  # bytes: a size window this wide is left open


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
    def onward(width: float, start: Any) -> float:
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
    def onward(width: float, start: Any) -> float:
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
    """Windows of a name key: subtrees of a trie of name prefixes, `width` characters deep.

    A window from a key inside a subtree of that depth reads the subtree's rest (ascending from
    `low`: [low, next(low[:width])); descending to `high`: [high[:width], high)). A window from a
    key that starts a subtree, as the one before it ended, reads the neighbouring subtree whole:
    the subtree of `low` itself, or the one just below `high`. A window that held too few rows
    after a rest stays at its depth; after a whole subtree it goes up one level. Going up right
    after a rest would read the parent's rest instead, up to an alphabet's worth of subtrees: the
    page after `doc-000999` read the 9,000 names left under `doc-00` for 200. Narrowing goes down
    one level."""

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
        depth = int(width)
        if depth <= 0 or not high:
            return None
        if len(high) > depth:
            return high[:depth]
        return _previous_sibling(high)

    @staticmethod
    def up(low: str, width: float) -> str | None:
        return prefix_upper_bound(low[: int(width)]) if int(width) > 0 else None

    @staticmethod
    def onward(width: float, start: str) -> float:
        if len(start) > int(width):
            return width
        return max(float(min(int(width), len(start)) - 1), 0.0)

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


def _previous_sibling(prefix: str) -> str:
    """The trie node just before `prefix` at its depth: its last character one lower (code point
    order, skipping the surrogates), or its parent when that character is the lowest."""
    code = ord(prefix[-1]) - 1
    if 0xD800 <= code <= 0xDFFF:
        code = 0xD7FF
    return prefix[:-1] + chr(code) if code >= 0 else prefix[:-1]


_KEYS: dict[str, Any] = {"modified_at": _TimeKeys, "created_at": _TimeKeys, "size": _SizeKeys, "name_lower": _NameKeys}


class WindowedKeyset(_Reader):
    """Bounded windows of the key, and remembered first-page edges: for servers (SecantusDB) that
    read a whole index range before applying the limit. Owns the `listing_edges` collection."""

    name = "windowed"

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        super().__init__(db)
        self.edges = db["listing_edges"]  # per account and listing: where its first page ended

    async def read(self, scan: Scan, after: Position | None, need: int, window: float | None) -> Batch:
        """See `Listing.read`. The start of a listing (no position, no window) reads up to its
        remembered edge first; the start of a search on a date takes its first window from the
        account's newest-first listing."""
        if after is None and window is None:
            if scan.listing:
                rows, width = await self._first_rows(scan, need)
                return Batch(rows, width, len(rows) < need)
            window = await self._date_density(scan)
        return Batch(*await self._walk(scan, after, need, window))

    def cursor_window(self, scan: Scan, window: float | None) -> float | None:
        """The window to start the next page with. A listing carries the one its page used; a
        search whose walk opened its window all the way (0, names) starts narrow again."""
        keys = _KEYS[scan.field]
        if scan.listing:
            return float(keys.carry(keys.first if window is None else window))
        return float(keys.carry(window or keys.first))

    async def _walk(
        self,
        scan: Scan,
        after: Position | None,
        need: int,
        width: float | None,
        *,
        start: Any = None,
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
            rows = await self._ties(scan, after, need)
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
            rows += await self._find(
                {**scan.equal, field: bounds} if bounds else dict(scan.equal), sort, need - len(rows)
            )
            filled_first = first and len(rows) >= need
            first = False
            if len(rows) >= need:
                return rows, keys.narrower(w) if filled_first else w, False
            if last:
                return rows, w, True
            w = keys.onward(w, pos)  # the width of the next window, after one from `pos` held too few
            pos, inclusive = (high, True) if ascending else (low, False)

    async def _first_rows(self, scan: Scan, want: int) -> tuple[list[dict[str, Any]], float]:
        """The first `want` rows of a listing: up to the remembered edge in one range, then onward.

        Starting from the edge the last first page of the same listing ended at, a first page does
        not walk from the end of the key's domain to where the account's documents are; the edge is
        kept up to date as it moves.
        """
        edge_id = f"{scan.equal['account_id']}|{scan.kind}"
        edge = await self.edges.find_one({"_id": edge_id})
        if edge is None:
            rows, width, _ = await self._walk(scan, None, want, None)
        else:
            # `$lt` the successor, not `$lte`: SecantusDB 0.7 drops the equal keys of `$lte` on a
            # compound index's non-leading field.
            keys = _KEYS[scan.field]
            bound = {"$lt": keys.successor(edge["value"])} if scan.direction == ASCENDING else {"$gte": edge["value"]}
            rows = await self._find(
                {**scan.equal, scan.field: bound}, [(scan.field, scan.direction), ("_id", scan.direction)], want
            )
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
                await self.edges.replace_one(
                    {"_id": edge_id}, {"value": rows[-1][scan.field], "width": width}, upsert=True
                )
        return rows, width

    async def _date_density(self, scan: Scan) -> float | None:
        """A first window for a search walking a date: the one that held a first page of the
        account's newest documents (from that listing's edge), instead of ramping up from a minute.
        Only where the walk starts; what it reads does not depend on it."""
        sort = {"modified_at": "modified", "created_at": "created"}.get(scan.field)
        if sort is None:
            return None
        kind = listing_kind(sort, "desc", trashed=False, path=None)
        edge = await self.edges.find_one({"_id": f"{scan.equal['account_id']}|{kind}"})
        return float(edge["width"]) if edge else None


# --- the choice, once, at composition --------------------------------------------------------


async def reads_whole_ranges(db: AsyncDatabase[Any]) -> bool:
    """Whether the server behind `db` is SecantusDB, which reads a whole index range before it
    applies a limit. Probes `buildInfo` once: SecantusDB adds `secantusVersion` to it, MongoDB has
    no such field. A server that refuses the command counts as SecantusDB, since the windowed
    strategy is correct on any server (only more queries); a server that cannot be reached fails
    the start, as the index creation right after it would."""
    try:
        info = await db.client.admin.command("buildInfo")
    except OperationFailure:
        return True
    return "secantusVersion" in info


async def choose_listing(strategy: str, db: AsyncDatabase[Any]) -> Listing:
    """The listing strategy for `db`: "windowed", "keyset", or "auto" (windowed on SecantusDB,
    keyset on anything else, per `reads_whole_ranges`)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"listing strategy: one of {', '.join(STRATEGIES)}, not {strategy!r}")
    chosen = strategy
    if strategy == "auto":
        chosen = "windowed" if await reads_whole_ranges(db) else "keyset"
    log.info("listing strategy", setting=strategy, strategy=chosen)
    return WindowedKeyset(db) if chosen == "windowed" else PlainKeyset(db)

"""The analytics collections, bound to one transaction's session (or none, for reads).

| collection | holds |
|---|---|
| `analytics_facts` | the ledger: one row per consumed event (`_id` = the event id), the facts a rebuild folds |
| `analytics_daily` | `{scope}|{day}`: that day's changes of the stocks and counts of the flows, per account and `*` |
| `analytics_link_daily` | `{link}|{day}`: a public link's downloads that day (with its owner) |
| `analytics_links` | a public link: owner, document, name, downloads in all |
| `analytics_documents` | a document: owner, name, type, bytes by place, downloads, link downloads, shares |
| `analytics_state` | `rollups`: whether a rebuild is under way (the consumer waits while it is) |
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_analytics.domain.rollups import ACCOUNT_KINDS, DOCUMENT_KINDS, DocumentState, Fact, Figures
from docstore_messaging.in_slices import find_in

FACTS = "analytics_facts"
DAILY = "analytics_daily"
LINK_DAILY = "analytics_link_daily"
LINKS = "analytics_links"
DOCUMENTS = "analytics_documents"
STATE = "analytics_state"
ROLLUPS = (DAILY, LINK_DAILY, LINKS, DOCUMENTS)
"""What a rebuild wipes and writes again (the ledger stays)."""


def flatten(value: Mapping[str, Any], prefix: str = "") -> Figures:
    """`{"docs": {"pdf": 1}}` -> `{"docs.pdf": 1}` (MongoDB nests dotted `$inc` paths)."""
    out: Figures = {}
    for name, item in value.items():
        if isinstance(item, Mapping):
            out.update(flatten(item, f"{prefix}{name}."))
        elif item:
            out[f"{prefix}{name}"] = int(item)
    return out


class Repository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.db = db
        self.session = session

    # --- the ledger ---------------------------------------------------------------------------

    async def add_facts(self, facts: Iterable[Fact]) -> None:
        rows = [fact.to_row() for fact in facts]
        if rows:
            await self.db[FACTS].insert_many(rows, ordered=False, session=self.session)

    async def facts_of(self, subjects: Iterable[str]) -> list[Fact]:
        """The stock facts (versions, trash, plans...) of these entities: what their timelines
        are replayed from (a popular document's downloads are not read again and again)."""
        stock = {"kind": {"$in": sorted(DOCUMENT_KINDS | ACCOUNT_KINDS)}}
        found = find_in(self.db[FACTS], "subject", sorted(set(subjects)), where=stock, session=self.session)
        return [Fact.from_row(row) async for row in found]

    async def iterate_facts(self) -> AsyncIterator[Fact]:
        """The whole ledger, one entity's facts after another (by subject)."""
        cursor = self.db[FACTS].find({}, session=self.session).sort([("subject", ASCENDING), ("_id", ASCENDING)])
        async for row in cursor:
            yield Fact.from_row(row)

    # --- the rebuild flag --------------------------------------------------------------------

    async def touch_state(self) -> bool:
        """Write the state row (so a rebuild starting now conflicts with this transaction);
        whether a rebuild is under way."""
        row = await self.db[STATE].find_one_and_update(
            {"_id": "rollups"},
            {"$inc": {"batches": 1}, "$setOnInsert": {"rebuilding": False}},
            upsert=True,
            return_document=True,
            session=self.session,
        )
        return bool(row and row.get("rebuilding"))

    async def set_rebuilding(self, rebuilding: bool) -> None:
        await self.db[STATE].update_one(
            {"_id": "rollups"}, {"$set": {"rebuilding": rebuilding}}, upsert=True, session=self.session
        )

    async def rebuilding(self) -> bool:
        row = await self.db[STATE].find_one({"_id": "rollups"}, session=self.session)
        return bool(row and row.get("rebuilding"))

    # --- roll-ups ---------------------------------------------------------------------------

    async def add_daily(self, changes: Mapping[tuple[str, str], Figures]) -> None:
        """Add each (scope, day)'s figures to its roll-up."""
        ops = [
            UpdateOne(
                {"_id": f"{scope}|{day}"},
                {"$inc": {f"f.{name}": value for name, value in figures.items()}, "$set": {"scope": scope, "day": day}},
                upsert=True,
            )
            for (scope, day), figures in changes.items()
            if figures
        ]
        if ops:
            await self.db[DAILY].bulk_write(ops, ordered=True, session=self.session)

    async def add_link_days(self, downloads: Mapping[tuple[str, str, str], int]) -> None:
        """(link, owner, day) -> downloads to add."""
        ops = [
            UpdateOne(
                {"_id": f"{link}|{day}"},
                {"$inc": {"downloads": n}, "$set": {"link_id": link, "owner": owner, "day": day}},
                upsert=True,
            )
            for (link, owner, day), n in downloads.items()
        ]
        if ops:
            await self.db[LINK_DAILY].bulk_write(ops, ordered=True, session=self.session)

    async def save_links(self, links: Mapping[str, Mapping[str, Any]]) -> None:
        """Link id -> `$set` fields and `downloads` to add."""
        ops = []
        for link, fields in links.items():
            update: dict[str, Any] = {"$inc": {"downloads": int(fields.get("downloads", 0))}}
            rest = {k: v for k, v in fields.items() if k != "downloads"}
            if rest:
                update["$set"] = rest
            ops.append(UpdateOne({"_id": link}, update, upsert=True))
        if ops:
            await self.db[LINKS].bulk_write(ops, ordered=True, session=self.session)

    async def save_documents(
        self,
        states: Mapping[str, tuple[str, DocumentState]],
        counts: Mapping[str, Figures],
        owners: Mapping[str, str],
    ) -> None:
        """Each document's stock state (owner, state) and counts to add (with the owner)."""
        ops = []
        for document_id in sorted(set(states) | set(counts)):
            update: dict[str, Any] = {}
            if document_id in owners:
                update["$set"] = {"owner": owners[document_id]}
            if document_id in states:
                owner, state = states[document_id]
                figures = state.figures()
                current, old, trash = (figures.get(n, 0) for n in ("current_bytes", "old_bytes", "trash_bytes"))
                update["$set"] = {
                    **update.get("$set", {}),
                    "owner": owner,
                    "type": state.kind,
                    "name": state.name,
                    "current_bytes": current,
                    "old_bytes": old,
                    "trash_bytes": trash,
                    "total_bytes": current + old + trash,
                    "versions": len(state.versions),
                    "trashed": state.trashed,
                    "stored": bool(state.versions),
                }
            if counts.get(document_id):
                update["$inc"] = dict(counts[document_id])
            if update:
                ops.append(UpdateOne({"_id": document_id}, update, upsert=True))
        if ops:
            await self.db[DOCUMENTS].bulk_write(ops, ordered=True, session=self.session)

    # --- the most-downloaded and most-shared documents ---------------------------------------

    async def counts_of(self, document_ids: Iterable[str]) -> list[dict[str, Any]]:
        fields = {"owner": 1, "downloads": 1, "link_downloads": 1, "shares": 1, "total_bytes": 1}
        found = find_in(self.db[DOCUMENTS], "_id", sorted(set(document_ids)), projection=fields, session=self.session)
        return [row async for row in found]

    async def board(self, name: str) -> list[str]:
        """The ids on a leaderboard (`downloads`, `shares`), best first."""
        row = await self.db[STATE].find_one({"_id": f"top-{name}"}, session=self.session)
        return list(row.get("ids", [])) if row else []

    async def save_board(self, name: str, ids: list[str]) -> None:
        await self.db[STATE].update_one(
            {"_id": f"top-{name}"}, {"$set": {"ids": ids}}, upsert=True, session=self.session
        )

    async def wipe(self) -> None:
        await self.db[STATE].delete_many({"_id": {"$in": ["top-downloads", "top-shares"]}}, session=self.session)
        for name in ROLLUPS:
            await self.db[name].delete_many({}, session=self.session)

    # --- reads --------------------------------------------------------------------------------

    async def daily(self, scope: str, *, first: str | None = None, last: str | None = None) -> dict[str, Figures]:
        """Day -> figures of a scope, from `first` to `last` (inclusive; None: open)."""
        day: dict[str, Any] = {}
        if first is not None:
            day["$gte"] = first
        if last is not None:
            day["$lte"] = last
        query: dict[str, Any] = {"scope": scope}
        if day:
            query["day"] = day
        cursor = self.db[DAILY].find(query, session=self.session)
        return {row["day"]: flatten(row.get("f", {})) async for row in cursor}

    async def all_daily(self) -> dict[tuple[str, str], Figures]:
        cursor = self.db[DAILY].find({}, session=self.session)
        return {(row["scope"], row["day"]): flatten(row.get("f", {})) async for row in cursor}

    async def documents(
        self, query: Mapping[str, Any], sort: str, limit: int, projection: Mapping[str, int] | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.db[DOCUMENTS].find(dict(query), projection, session=self.session)
        cursor = cursor.sort([(sort, DESCENDING), ("_id", ASCENDING)]).limit(limit)
        return [row async for row in cursor]

    async def links_of(self, owner: str, limit: int) -> list[dict[str, Any]]:
        cursor = self.db[LINKS].find({"owner": owner}, session=self.session)
        cursor = cursor.sort([("created_at", DESCENDING), ("_id", ASCENDING)]).limit(limit)
        return [row async for row in cursor]

    async def link_days(self, link_ids: list[str], first: str) -> list[dict[str, Any]]:
        found = find_in(self.db[LINK_DAILY], "link_id", link_ids, session=self.session)
        return [row async for row in found if row["day"] >= first]


@dataclass(frozen=True)
class Repositories:
    analytics: Repository


def repositories(db: AsyncDatabase[Any]) -> Callable[[AsyncClientSession | None], Repositories]:
    def bound(session: AsyncClientSession | None) -> Repositories:
        return Repositories(Repository(db, session))

    return bound


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[FACTS].create_index([("subject", ASCENDING), ("_id", ASCENDING)])
    await db[DAILY].create_index([("scope", ASCENDING), ("day", ASCENDING)])
    await db[LINK_DAILY].create_index([("link_id", ASCENDING), ("day", ASCENDING)])
    await db[LINKS].create_index([("owner", ASCENDING), ("created_at", DESCENDING)])
    await db[DOCUMENTS].create_index([("owner", ASCENDING), ("total_bytes", DESCENDING)])
    await db[DOCUMENTS].create_index([("downloads", DESCENDING)])
    await db[DOCUMENTS].create_index([("shares", DESCENDING)])

"""The audit trail in MongoDB: `audit_log` (the records) and `audit_chains` (one per account).

`audit_log` holds each record as written (`_id` = `<account>:<seq>`), with a unique index on
(account_id, seq), so two writers can never give two records one place in a chain, and one on
`event_id`, so an event is recorded once however often Kafka delivers it. Records are only
inserted, and deleted only by the retention purge, a prefix of a chain at a time.

`audit_chains` keeps per account the `head` (seq and hash of the last record written) and the
`anchor` (seq and hash of the last record purged). A writer moves the head only from the
position it read (`advance`): two writers that read the same head collide (a write conflict, or
a duplicate key) and the unit of work runs the loser again on the new head, so a chain never
forks. Verification starts at the anchor and must end at the head.

Every repository is bound to one session (None: outside a transaction), like `repositories.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from docstore_accounts.domain.audit import START, AuditRecord, ChainPoint
from docstore_messaging.in_slices import find_in

Session = AsyncClientSession | None
Doc = dict[str, Any]

LOG = "audit_log"
CHAINS = "audit_chains"


class ChainMoved(DuplicateKeyError):
    """Another writer moved the chain's head since it was read: run again on the new head.

    A DuplicateKeyError, as the insert of the same seq would be: the unit of work's
    `run_once_each` runs a batch again on exactly that error (a concurrent writer)."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"audit chain of {account_id} moved while this batch was written", code=11000)


def to_doc(record: AuditRecord) -> Doc:
    return {
        "_id": f"{record.account_id}:{record.seq}",
        "account_id": record.account_id,
        "seq": record.seq,
        "event_id": record.event_id,
        "at": record.at,
        "action": record.action,
        "outcome": record.outcome,
        "actor": record.actor,
        "document_id": record.document_id,
        "client_address": record.client_address,
        "user_agent": record.user_agent,
        "region": record.region,
        "details": record.details,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def from_doc(doc: Doc) -> AuditRecord:
    return AuditRecord(
        account_id=doc["account_id"],
        seq=doc["seq"],
        event_id=doc["event_id"],
        at=doc["at"],
        action=doc["action"],
        outcome=doc["outcome"],
        actor=dict(doc.get("actor") or {}),
        document_id=doc.get("document_id"),
        client_address=doc.get("client_address"),
        user_agent=doc.get("user_agent"),
        region=doc["region"],
        details=dict(doc.get("details") or {}),
        prev_hash=doc["prev_hash"],
        hash=doc["hash"],
    )


@dataclass(frozen=True)
class Chain:
    """An account's chain positions: the last record written, the last record purged."""

    head: ChainPoint = START
    anchor: ChainPoint = START


@dataclass(frozen=True)
class Criteria:
    """An admin's query: any of account, action and a time range (`since` inclusive)."""

    account_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> Doc:
        found: Doc = {}
        if self.account_id:
            found["account_id"] = self.account_id
        if self.action:
            found["action"] = self.action
        if self.since or self.until:
            found["at"] = {
                **({"$gte": self.since} if self.since else {}),
                **({"$lt": self.until} if self.until else {}),
            }
        return found


class AuditLog:
    """The records and chain positions, bound to one session."""

    def __init__(self, db: AsyncDatabase[Any], session: Session = None) -> None:
        self.log = db[LOG]
        self.chains = db[CHAINS]
        self.session = session

    async def ensure_indexes(self) -> None:
        await self.log.create_index([("account_id", ASCENDING), ("seq", ASCENDING)], unique=True)
        await self.log.create_index("event_id", unique=True)
        await self.log.create_index([("at", DESCENDING), ("_id", DESCENDING)])
        await self.log.create_index([("account_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)])

    # --- writing -------------------------------------------------------------------------

    async def chain(self, account_id: str) -> Chain:
        doc = await self.chains.find_one({"_id": account_id}, session=self.session)
        if doc is None:
            return Chain()
        return Chain(
            head=ChainPoint(doc.get("head_seq", 0), doc.get("head_hash", START.hash)),
            anchor=ChainPoint(doc.get("anchor_seq", 0), doc.get("anchor_hash", START.hash)),
        )

    async def recorded(self, event_ids: list[str]) -> set[str]:
        """Which of `event_ids` have a record already."""
        found = find_in(self.log, "event_id", event_ids, projection={"event_id": 1}, session=self.session)
        return {doc["event_id"] async for doc in found}

    async def append(self, account_id: str, read: ChainPoint, records: list[AuditRecord]) -> None:
        """Insert `records` (which follow `read`) and move the head to the last of them; ChainMoved
        (or a DuplicateKeyError) when another writer moved the head first."""
        if not records:
            return
        last = records[-1]
        update = {"$set": {"head_seq": last.seq, "head_hash": last.hash}}
        if read.seq == 0:
            # The account's first record: the chain document is created, and exists for the
            # loser of a race (a duplicate _id).
            moved = await self.chains.update_one(
                {"_id": account_id, "head_seq": 0}, update, upsert=True, session=self.session
            )
        else:
            moved = await self.chains.update_one(
                {"_id": account_id, "head_seq": read.seq, "head_hash": read.hash}, update, session=self.session
            )
        if moved.matched_count == 0 and moved.upserted_id is None:
            raise ChainMoved(account_id)
        await self.log.insert_many([to_doc(record) for record in records], session=self.session)

    # --- reading -------------------------------------------------------------------------

    async def records(self, account_id: str, *, after_seq: int = 0, batch: int = 500) -> AsyncIterator[AuditRecord]:
        """An account's records after `after_seq`, in seq order (read a batch at a time)."""
        position = after_seq
        while True:
            found = (
                await self.log.find({"account_id": account_id, "seq": {"$gt": position}}, session=self.session)
                .sort("seq", ASCENDING)
                .limit(batch)
                .to_list(None)
            )
            for doc in found:
                yield from_doc(doc)
            if len(found) < batch:
                return
            position = found[-1]["seq"]

    async def activity(
        self, account_id: str, *, action: str | None, before_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        """An account's records, newest first, below `before_seq`."""
        query: Doc = {"account_id": account_id}
        if action:
            query["action"] = action
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        found = await self.log.find(query, session=self.session).sort("seq", DESCENDING).limit(limit).to_list(None)
        return [from_doc(doc) for doc in found]

    async def search(
        self, criteria: Criteria, *, after: tuple[datetime, str] | None, limit: int, newest_first: bool = True
    ) -> list[tuple[str, AuditRecord]]:
        """Records matching `criteria` across accounts, by time (then id), after the position
        `after` = (at, _id) of the last one handed out; each with its `_id`."""
        query = criteria.query()
        if after is not None:
            at, doc_id = after
            beyond = "$lt" if newest_first else "$gt"
            query = {"$and": [query, {"$or": [{"at": {beyond: at}}, {"at": at, "_id": {beyond: doc_id}}]}]}
        order = DESCENDING if newest_first else ASCENDING
        found = (
            await self.log.find(query, session=self.session)
            .sort([("at", order), ("_id", order)])
            .limit(limit)
            .to_list(None)
        )
        return [(doc["_id"], from_doc(doc)) for doc in found]

    async def accounts(self, *, after: str | None = None, batch: int = 500) -> AsyncIterator[str]:
        """Every account that has a chain, in id order."""
        position = after
        while True:
            query: Doc = {"_id": {"$gt": position}} if position is not None else {}
            found = (
                await self.chains.find(query, {"_id": 1}, session=self.session)
                .sort("_id", ASCENDING)
                .limit(batch)
                .to_list(None)
            )
            for doc in found:
                yield doc["_id"]
            if len(found) < batch:
                return
            position = found[-1]["_id"]

    # --- retention -----------------------------------------------------------------------

    async def older_than(self, cutoff: datetime, *, limit: int) -> list[tuple[str, int]]:
        """(account, seq) of up to `limit` records older than `cutoff`, oldest first."""
        found = (
            await self.log.find({"at": {"$lt": cutoff}}, {"account_id": 1, "seq": 1}, session=self.session)
            .sort([("at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
            .to_list(None)
        )
        return [(doc["account_id"], doc["seq"]) for doc in found]

    async def first_records(self, account_id: str, *, limit: int) -> list[tuple[int, datetime]]:
        """(seq, at) of an account's oldest records, in seq order."""
        found = (
            await self.log.find({"account_id": account_id}, {"seq": 1, "at": 1}, session=self.session)
            .sort("seq", ASCENDING)
            .limit(limit)
            .to_list(None)
        )
        return [(doc["seq"], doc["at"]) for doc in found]

    async def purge(self, account_id: str, through_seq: int) -> int:
        """Delete the account's records up to `through_seq` and make the last of them the anchor
        (so verification starts there); in the caller's transaction, which has checked that the
        anchor is below `through_seq`. Returns how many went."""
        last = await self.log.find_one({"account_id": account_id, "seq": through_seq}, session=self.session)
        if last is None:
            return 0
        await self.chains.update_one(
            {"_id": account_id},
            {"$set": {"anchor_seq": through_seq, "anchor_hash": last["hash"], "anchor_at": last["at"]}},
            session=self.session,
        )
        deleted = await self.log.delete_many(
            {"account_id": account_id, "seq": {"$lte": through_seq}}, session=self.session
        )
        return deleted.deleted_count


@dataclass
class AuditRepositories:
    """What the audit module's `tx.repos` holds."""

    audit: AuditLog


def audit_repositories(db: AsyncDatabase[Any]) -> Callable[[Session], AuditRepositories]:
    """The audit module's repositories, bound per transaction by its unit of work."""

    def bind(session: Session) -> AuditRepositories:
        return AuditRepositories(audit=AuditLog(db, session))

    return bind

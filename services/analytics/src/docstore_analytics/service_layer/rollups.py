"""Recording facts and keeping the daily roll-ups, each event exactly once; and the rebuild.

`Recorder.apply` takes a batch of facts (one per consumed event) and, in one transaction with
the batch's processed-event records (`uow.run_once_each`): reads the facts already in the ledger
for the documents and accounts the batch touches, adds the new facts, and adds to the roll-ups
the difference the new facts make (`domain.rollups.effects`). A redelivered event is skipped by
its processed-event record; a batch killed at any line commits nothing, so nothing counts twice.

`Recorder.rebuild` wipes the roll-ups and folds the whole ledger again with the same function:
the roll-ups come back equal. While it runs the consumer waits (the `analytics_state` row: every
batch writes it, so a rebuild that starts conflicts with the batches in flight, and batches that
start later see the flag and wait).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from docstore_analytics.adapters.repositories import Repository
from docstore_analytics.domain.rollups import Effects, Fact, effects, entity_of
from docstore_analytics.service_layer.ports import Repos
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)

Tx = Transaction[Repos]

BOARD_SIZE = 100
"""How many documents each leaderboard keeps (the admin page shows 10 to 100)."""
BOARDS = ("downloads", "shares")

REBUILD_FLUSH = 500
"""Entities folded between two writes of the rebuild."""


class RebuildUnderWay(Exception):
    """The roll-ups are being rebuilt; the batch waits and is applied after."""


async def write(repo: Repository, change: Effects) -> None:
    await repo.add_daily(change.daily)
    await repo.add_link_days(change.link_days)
    await repo.save_links(change.links)
    await repo.save_documents(change.documents, change.document_counts, change.document_owners)


async def update_boards(repo: Repository, changed: set[str]) -> None:
    """Keep the most-downloaded and most-shared leaderboards: counts only grow, so the top
    documents are the ones on the board before or changed now. (Sorting every document on each
    read took 18-21 s at 100,000 accounts on the local MongoDB-protocol server.)"""
    if not changed:
        return
    rows = {row["_id"]: row for row in await repo.counts_of(changed)}
    for name in BOARDS:
        ids = await repo.board(name)
        known = {row["_id"]: row for row in await repo.counts_of(ids)} if ids else {}
        known.update(rows)
        ranked = sorted(
            (row for row in known.values() if int(row.get(name, 0)) > 0),
            key=lambda row: (-int(row.get(name, 0)), row["_id"]),
        )
        top = [row["_id"] for row in ranked[:BOARD_SIZE]]
        if top != ids:
            await repo.save_board(name, top)


class Recorder:
    def __init__(self, uow: UnitOfWork[Repos], reads: Repos, *, consumer: str = "analytics", wait: float = 1.0) -> None:
        self.uow = uow
        self.reads = reads
        self.consumer = consumer
        self.wait = wait

    async def apply(self, facts: Sequence[Fact]) -> frozenset[str]:
        """Record the facts not recorded before, in one transaction; their event ids."""

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            repo = tx.repos.analytics
            if await repo.touch_state():
                raise RebuildUnderWay()
            todo: dict[str, Fact] = {}
            for fact in facts:
                if fact.event_id in fresh:
                    todo.setdefault(fact.event_id, fact)  # an event twice in one batch counts once
            new = list(todo.values())
            subjects = {fact.subject for fact in new if entity_of(fact) is not None}
            known = await repo.facts_of(subjects) if subjects else []
            await repo.add_facts(new)
            change = effects(known, new)
            await write(repo, change)
            await update_boards(repo, set(change.document_counts))

        while True:
            try:
                return await self.uow.run_once_each(
                    consumer=self.consumer, event_ids=[fact.event_id for fact in facts], work=work
                )
            except RebuildUnderWay:
                await asyncio.sleep(self.wait)

    async def rebuild(self) -> dict[str, int]:
        """Wipe the roll-ups and fold the ledger again; how many facts and entities were folded."""

        async def start(tx: Tx) -> None:
            await tx.repos.analytics.touch_state()
            await tx.repos.analytics.set_rebuilding(True)

        await self.uow.run(start)
        repo = self.reads.analytics
        facts = entities = 0
        try:
            await repo.wipe()
            pending: list[Fact] = []
            subject: str | None = None
            group: list[Fact] = []
            batch_entities = 0
            async for fact in repo.iterate_facts():
                facts += 1
                if fact.subject != subject:
                    pending += group
                    group = []
                    subject = fact.subject
                    entities += 1
                    batch_entities += 1
                    if batch_entities >= REBUILD_FLUSH:
                        await write(repo, effects([], pending))
                        pending, batch_entities = [], 0
                group.append(fact)
            await write(repo, effects([], pending + group))
            for name in BOARDS:
                rows = await repo.documents({name: {"$gt": 0}}, name, BOARD_SIZE, {"_id": 1})
                await repo.save_board(name, [row["_id"] for row in rows])
        finally:
            await repo.set_rebuilding(False)
        log.info("analytics_rebuilt", facts=facts, entities=entities)
        return {"facts": facts, "entities": entities}

"""Applying events to the usage ledger, each exactly once, with the quota events they cause.

Every change goes through the document it concerns: the document's state (a sum of
bytes, its current version, its trash flag) is updated, and the account's counters move
by the difference the change made. Each part of a document's state is order-independent
(a sum, a maximum, a latest-by-event-time), so events arriving in any order, each applied
once, leave the same ledger. Each method runs in `uow.run_once` with the event's id: a
redelivered event changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from docstore_events.unit_of_work import Transaction, UnitOfWork, Work
from docstore_quota.adapters import metrics
from docstore_quota.domain.settlement import settle
from docstore_quota.domain.usage import WARNING_PERCENTS, CountingRule, DocumentState, Usage, delta, newer
from docstore_quota.service_layer.ports import Repos

Tx = Transaction[Repos]

EVERY_BYTE = CountingRule()
"""The default counting rule: the trash and old versions count."""


class Ledger:
    """The usage ledger, changed by events (`consumer` names the processed-event records)."""

    def __init__(
        self,
        uow: UnitOfWork[Repos],
        caps: dict[str, int],
        rule: CountingRule = EVERY_BYTE,
        warning_percents: tuple[int, ...] = WARNING_PERCENTS,
        *,
        consumer: str = "quota",
    ) -> None:
        self.uow = uow
        self.caps = caps
        self.rule = rule
        self.warning_percents = warning_percents
        self.consumer = consumer

    async def _once(self, event_id: str, work: Work[Repos, None]) -> bool:
        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def set_plan(self, event_id: str, account_id: str, plan: str, at: datetime) -> bool:
        """`account.created` and `account.plan-changed`: the latest by event time wins."""

        async def work(tx: Tx) -> None:
            if not newer(at, await tx.repos.usage.plan_at(account_id)):
                return  # an older plan event arriving late changes nothing
            await self._settle(tx, await tx.repos.usage.set_plan(account_id, plan, at))

        return await self._once(event_id, work)

    async def uploaded(
        self, event_id: str, account_id: str, upload_id: str, document_id: str, size: int, base_version: int | None
    ) -> bool:
        """`upload.completed`: the bytes count, and stop being reserved, in one step."""
        version = (base_version or 0) + 1

        async def work(tx: Tx) -> None:
            usage = await self._change(tx, account_id, document_id, lambda d: d.add(size).version(version, size))
            await tx.repos.reservations.delete(account_id, upload_id)
            tx.after_commit(lambda: metrics.observe_upload(usage.plan, size))

        return await self._once(event_id, work)

    async def modified(self, event_id: str, account_id: str, document_id: str, version: int, size: int) -> bool:
        """`file.modified`: the document's current version and its size."""

        async def work(tx: Tx) -> None:
            await self._change(tx, account_id, document_id, lambda d: d.version(version, size))

        return await self._once(event_id, work)

    async def deleted(self, event_id: str, account_id: str, document_id: str, size: int) -> bool:
        """`file.deleted`: the bytes freed (a purge, or versions pruned)."""

        async def work(tx: Tx) -> None:
            await self._change(tx, account_id, document_id, lambda d: d.remove(size))

        return await self._once(event_id, work)

    async def trashed(self, event_id: str, account_id: str, document_id: str, trashed: bool, at: datetime) -> bool:
        """`file.trashed` / `file.restored`: the latest by event time wins."""

        async def work(tx: Tx) -> None:
            await self._change(tx, account_id, document_id, lambda d: d.trash(trashed, at))

        return await self._once(event_id, work)

    async def _change(
        self, tx: Tx, account_id: str, document_id: str, change: Callable[[DocumentState], DocumentState]
    ) -> Usage:
        before = await tx.repos.usage.document(document_id)
        after = change(before)
        await tx.repos.usage.save_document(account_id, document_id, after)
        moved = delta(before, after, self.rule)
        usage = await tx.repos.usage.add_counters(
            account_id, used=moved.used, stored=moved.stored, documents=moved.documents
        )
        return await self._settle(tx, usage)

    async def _settle(self, tx: Tx, usage: Usage) -> Usage:
        """Flag or unflag the account and announce warning levels, each once per crossing."""
        settled = settle(usage, self.caps, self.warning_percents)
        if settled.flags_changed:
            await tx.repos.usage.set_flags(
                usage.account_id, over_quota=settled.usage.over_quota, warned=settled.usage.warned
            )
        for event in settled.events:
            tx.emit(event)
        return settled.usage

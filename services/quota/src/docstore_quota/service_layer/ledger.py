"""Applying events to the usage ledger, each exactly once, with the quota events they cause.

Every change goes through the document it concerns: the document's state (a sum of
bytes, its current version, its trash flag) is updated, and the account's counters move
by the difference the change made. Each part of a document's state is order-independent
(a sum, a maximum, a latest-by-event-time), so events arriving in any order, each applied
once, leave the same ledger.

Events arrive in batches (`Ledger.apply`): one transaction reads the batch's documents
at once, applies every change in memory, writes the documents and each account's counters
in bulk, settles each account once (flags, warnings) and records the batch's processed
events (`uow.run_once_each`): a redelivered event changes nothing. Settling once per batch
means a batch that pushes an account past two warning levels announces only the highest,
as a single large upload does. The one-event methods (`uploaded`, `deleted`, ...) are
batches of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_quota.adapters import metrics
from docstore_quota.domain.settlement import settle
from docstore_quota.domain.usage import (
    WARNING_PERCENTS,
    CountingRule,
    DocumentChange,
    Usage,
    apply_changes,
    newer,
)
from docstore_quota.service_layer.ports import Repos

Tx = Transaction[Repos]

EVER = datetime(1970, 1, 1, tzinfo=UTC)
"""A cutoff before every grant: `live(account, EVER)` is every reservation the account holds."""
EVERY_BYTE = CountingRule()
"""The default counting rule: the trash and old versions count."""


@dataclass(frozen=True)
class PlanSet:
    """`account.created` / `account.plan-changed`: the latest by event time wins."""

    event_id: str
    account_id: str
    plan: str
    at: datetime


@dataclass(frozen=True)
class DocumentChanged:
    """An event that changes one document's bytes, version or trash flag."""

    event_id: str
    account_id: str
    document_id: str
    change: DocumentChange
    released_upload_id: str | None = None
    """The reservation this change turns into usage (`upload.completed`)."""
    uploaded_bytes: int | None = None

    @classmethod
    def uploaded(
        cls, event_id: str, account_id: str, upload_id: str, document_id: str, size: int, base_version: int | None
    ) -> DocumentChanged:
        """`upload.completed`: the bytes count, and stop being reserved, in one step."""
        version = (base_version or 0) + 1
        return cls(
            event_id,
            account_id,
            document_id,
            lambda d: d.add(size).version(version, size),
            released_upload_id=upload_id,
            uploaded_bytes=size,
        )

    @classmethod
    def modified(cls, event_id: str, account_id: str, document_id: str, version: int, size: int) -> DocumentChanged:
        """`file.modified`: the document's current version and its size."""
        return cls(event_id, account_id, document_id, lambda d: d.version(version, size))

    @classmethod
    def deleted(cls, event_id: str, account_id: str, document_id: str, size: int) -> DocumentChanged:
        """`file.deleted`: the bytes freed (a purge, or versions pruned)."""
        return cls(event_id, account_id, document_id, lambda d: d.remove(size))

    @classmethod
    def trashed(cls, event_id: str, account_id: str, document_id: str, trashed: bool, at: datetime) -> DocumentChanged:
        """`file.trashed` / `file.restored`: the latest by event time wins."""
        return cls(event_id, account_id, document_id, lambda d: d.trash(trashed, at))


@dataclass(frozen=True)
class ReservationReleased:
    """`upload.expired`: the grant will never complete; its room is free again."""

    event_id: str
    account_id: str
    upload_id: str


@dataclass(frozen=True)
class AccountClosed:
    """`account.deleted`: every reservation the account holds is released at once (its grants
    will never complete). Its used bytes go to zero through the `file.deleted` events of metadata's
    purge, after the grace period (issue 33)."""

    event_id: str
    account_id: str


Entry = PlanSet | DocumentChanged | ReservationReleased | AccountClosed


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

    async def apply(self, entries: Sequence[Entry]) -> frozenset[str]:
        """Apply the entries not applied before, in order, in one transaction; returns their event ids."""

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            todo: dict[str, Entry] = {}
            for entry in entries:
                if entry.event_id in fresh:
                    todo.setdefault(entry.event_id, entry)  # an event twice in one batch counts once
            await self._apply(tx, list(todo.values()))

        return await self.uow.run_once_each(
            consumer=self.consumer, event_ids=[entry.event_id for entry in entries], work=work
        )

    async def set_plan(self, event_id: str, account_id: str, plan: str, at: datetime) -> bool:
        return bool(await self.apply([PlanSet(event_id, account_id, plan, at)]))

    async def uploaded(
        self, event_id: str, account_id: str, upload_id: str, document_id: str, size: int, base_version: int | None
    ) -> bool:
        return bool(
            await self.apply(
                [DocumentChanged.uploaded(event_id, account_id, upload_id, document_id, size, base_version)]
            )
        )

    async def modified(self, event_id: str, account_id: str, document_id: str, version: int, size: int) -> bool:
        return bool(await self.apply([DocumentChanged.modified(event_id, account_id, document_id, version, size)]))

    async def deleted(self, event_id: str, account_id: str, document_id: str, size: int) -> bool:
        return bool(await self.apply([DocumentChanged.deleted(event_id, account_id, document_id, size)]))

    async def trashed(self, event_id: str, account_id: str, document_id: str, trashed: bool, at: datetime) -> bool:
        return bool(await self.apply([DocumentChanged.trashed(event_id, account_id, document_id, trashed, at)]))

    async def _apply(self, tx: Tx, entries: list[Entry]) -> None:
        settled: dict[str, Usage] = {}
        for account_id, (plan, at) in (await self._newer_plans(tx, entries)).items():
            settled[account_id] = await tx.repos.usage.set_plan(account_id, plan, at)

        changes = [entry for entry in entries if isinstance(entry, DocumentChanged)]
        if changes:
            states = await tx.repos.usage.document_states({change.document_id for change in changes})
            documents, moves = apply_changes(
                states, ((c.account_id, c.document_id, c.change) for c in changes), self.rule
            )
            await tx.repos.usage.save_document_states(documents)
            settled.update(await tx.repos.usage.add_to_counters(moves))

        for account_id in sorted(settled):
            settled[account_id] = await self._settle(tx, settled[account_id])

        released = [(e.account_id, e.upload_id) for e in entries if isinstance(e, ReservationReleased)]
        for closed in (e for e in entries if isinstance(e, AccountClosed)):
            held = await tx.repos.reservations.live(closed.account_id, EVER)
            released += [(closed.account_id, reservation.upload_id) for reservation in held]
        released += [(c.account_id, c.released_upload_id) for c in changes if c.released_upload_id is not None]
        await tx.repos.reservations.delete_each(released)
        uploads = [(settled[c.account_id].plan, c.uploaded_bytes) for c in changes if c.uploaded_bytes is not None]
        if uploads:

            def observe() -> None:
                for plan, size in uploads:
                    metrics.observe_upload(plan, size)

            tx.after_commit(observe)

    async def _newer_plans(self, tx: Tx, entries: list[Entry]) -> dict[str, tuple[str, datetime]]:
        """Per account, the plan to set: the latest plan event, if newer than the stored one."""
        latest: dict[str, PlanSet] = {}
        for entry in entries:
            if isinstance(entry, PlanSet):
                seen = latest.get(entry.account_id)
                if newer(entry.at, seen.at if seen else None):
                    latest[entry.account_id] = entry
        plans = {}
        for account_id, entry in latest.items():
            if newer(entry.at, await tx.repos.usage.plan_at(account_id)):
                plans[account_id] = (entry.plan, entry.at)
            # else: an older plan event arriving late changes nothing
        return plans

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

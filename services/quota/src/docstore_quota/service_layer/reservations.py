"""Room held for upload grants: grant, release, expire and purge.

Granting is a check then an insert, so two grants for the same account must not both see
the same room: every grant that stores a reservation also writes the account's grant-turn
record (`reservation_turns`) inside its transaction. Two concurrent grants for one account
therefore write the same document, the server aborts one with a transient WriteConflict, and
the unit of work runs it again on a snapshot that includes the winner's reservation.

That record is not the account's `usage` record, on purpose: the ledger writes `usage` for
every event it applies, and a grant writing it too lost the race to every batch of
completions of its own account (measured: grants of an uploading account ran up to six times,
seconds each). A grant needs no ordering against the ledger: its transaction reads usage and
reservations from one snapshot, where a completed upload is either still a reservation or
already usage, never both and never neither.

In one process, grants of one account also wait for each other (a sync client sending files
in parallel would otherwise conflict inside the transaction and retry over and over); across
replicas the transaction alone decides.

The account's plan comes from `account.created` / `account.plan-changed`, which arrive a moment
after a sign-up or upgrade answered. So before refusing, a grant asks `metadata` (`plans`) and,
when it holds a plan with a larger cap, decides again on that plan; the event sets it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import structlog

from docstore_messaging.tracing import loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork, Work
from docstore_quota.adapters.mongo import RaceLost
from docstore_quota.domain import reservations as domain_reservations
from docstore_quota.domain.reservations import (
    Decision,
    DuplicateUploadIds,
    GrantExpired,
    Reservation,
    UploadIdTaken,
    dead_before,
    decide,
    decide_batch,
    held_by,
    is_live,
)
from docstore_quota.domain.usage import Usage
from docstore_quota.service_layer.ports import PlanSource, Repos

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

ATTEMPTS = 3
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Grant:
    usage: Usage
    """The account's usage the decision was made on."""
    decision: Decision


@dataclass(frozen=True)
class Wanted:
    """One item of a batch reservation."""

    upload_id: str
    size: int
    expires_at: datetime


@dataclass(frozen=True)
class BatchGrant:
    usage: Usage
    """The account's usage the decisions were made on."""
    decisions: dict[str, Decision]
    """By upload id; items in `taken` have none."""
    taken: frozenset[str]
    """Upload ids another account holds: refused, the rest of the batch decided without them."""


G = TypeVar("G", Grant, BatchGrant)
PlanWork = Callable[[Transaction[Repos], str | None], Awaitable[G]]  # plan None: the recorded one


class Reservations:
    """Grants for `upload` (`consumer` names the processed-event records of `upload.expired`)."""

    def __init__(
        self,
        uow: UnitOfWork[Repos],
        caps: dict[str, int],
        grace: timedelta,
        clock: Clock = utc_now,
        plans: PlanSource | None = None,
    ) -> None:
        self.uow = uow
        self.caps = caps
        self.grace = grace
        self.clock = clock
        self.plans = plans
        self._locks: dict[str, asyncio.Lock] = {}

    def cutoff(self) -> datetime:
        """Reservations whose grant expired at or before this instant no longer count."""
        return dead_before(self.clock(), self.grace)

    async def reserve(self, account_id: str, upload_id: str, size: int, expires_at: datetime) -> Grant:
        """Grant or refuse `size` bytes for `upload_id`, atomically for the account.

        Raises `GrantExpired` for a grant already past its grace and `UploadIdTaken` when
        another account holds a reservation with this upload id.
        """
        if not is_live(expires_at, self.clock(), self.grace):
            raise GrantExpired(upload_id)

        async def work(tx: Transaction[Repos], plan: str | None) -> Grant:
            cutoff = self.cutoff()
            held = held_by(await tx.repos.reservations.get(upload_id), account_id, cutoff)
            usage = self._on_plan(await tx.repos.usage.get(account_id), plan)
            live = await tx.repos.reservations.live(account_id, cutoff)
            others = sum(r.size for r in live if r.upload_id != upload_id)
            decision = decide(usage, self.caps, size, others, held)
            if decision.store:
                # The write that makes concurrent grants for this account conflict (see the module doc).
                await tx.repos.reservations.take_turn(account_id)
                reservation = Reservation(upload_id, account_id, size, expires_at)
                await tx.repos.reservations.put(reservation, reserved_at=self.clock())
            return Grant(usage, decision)

        return await self._granting_on_plan(account_id, work, lambda grant: grant.decision.granted)

    async def reserve_many(self, account_id: str, wanted: list[Wanted]) -> BatchGrant:
        """`reserve` for many uploads of one account in one transaction: decided in order, each
        granted item counting against the room of the next (`decide_batch`), so a batch never
        holds more than the room in total. `Wanted.held` is filled in here, not by the caller.

        Raises `GrantExpired` when an item's grant is already past its grace. An item whose
        upload id another account holds is refused alone (`taken`), not the whole batch."""
        now = self.clock()
        for item in wanted:
            if not is_live(item.expires_at, now, self.grace):
                raise GrantExpired(item.upload_id)
        if len({item.upload_id for item in wanted}) != len(wanted):
            raise DuplicateUploadIds("an upload id appears twice in one batch")

        async def work(tx: Transaction[Repos], plan: str | None) -> BatchGrant:
            cutoff = self.cutoff()
            existing = await tx.repos.reservations.get_many(item.upload_id for item in wanted)
            taken: set[str] = set()
            asked: list[domain_reservations.Wanted] = []
            for item in wanted:
                try:
                    held = held_by(existing.get(item.upload_id), account_id, cutoff)
                except UploadIdTaken:
                    taken.add(item.upload_id)
                    continue
                asked.append(domain_reservations.Wanted(item.upload_id, item.size, held))
            usage = self._on_plan(await tx.repos.usage.get(account_id), plan)
            # The batch's own live reservations (read above, in this snapshot) are taken off the
            # account's sum here rather than by a `$nin` of the batch's ids in the query: the
            # server matches such a list against every live reservation of the account.
            held_here = sum(a.held.size for a in asked if a.held is not None)
            others = await tx.repos.reservations.live_bytes(account_id, cutoff) - held_here
            decided = decide_batch(usage, self.caps, asked, others)
            decisions = {a.upload_id: d for a, d in zip(asked, decided, strict=True)}
            stored = [
                Reservation(item.upload_id, account_id, item.size, item.expires_at)
                for item in wanted
                if item.upload_id in decisions and decisions[item.upload_id].store
            ]
            if stored:
                # One turn for the whole batch: concurrent grants conflict on it.
                await tx.repos.reservations.take_turn(account_id)
                await tx.repos.reservations.put_many(stored, reserved_at=self.clock(), stored=existing.keys())
            return BatchGrant(usage, decisions, frozenset(taken))

        return await self._granting_on_plan(account_id, work, lambda b: all(d.granted for d in b.decisions.values()))

    @staticmethod
    def _on_plan(usage: Usage, plan: str | None) -> Usage:
        return usage if plan is None else replace(usage, plan=plan)

    async def _granting_on_plan(self, account_id: str, work: PlanWork[G], granted: Callable[[G], bool]) -> G:
        """Run a grant's `work` on the recorded plan; when refused, once more on the plan `metadata`
        holds if its cap is larger (the plan event has not arrived yet; see the module doc)."""
        first = await self._granting(account_id, lambda tx: work(tx, None))
        if granted(first) or self.plans is None:
            return first
        usage = first.usage
        plan = await self.plans.plan(usage.account_id)
        if plan is None or plan not in self.caps or self.caps[plan] <= usage.cap(self.caps):
            return first
        log.info("quota_plan_from_metadata", account_id=usage.account_id, plan=plan, recorded=usage.plan)
        return await self._granting(account_id, lambda tx: work(tx, plan))

    async def _granting(self, account_id: str, work: Work[Repos, T]) -> T:
        """Run a grant's `work` for the account, one at a time in this process (see the module doc)."""
        async with self._account_lock(account_id):
            for attempt in range(ATTEMPTS):
                try:
                    return await self.uow.run(work)
                except RaceLost:
                    # Two first grants for the same new upload id raced; the loser runs again and
                    # now finds the winner's reservation (a repeat).
                    if attempt == ATTEMPTS - 1:
                        raise
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def _account_lock(self, account_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(account_id) is lock:
                del self._locks[account_id]  # keep the map to accounts granting right now

    async def release(self, account_id: str, upload_id: str) -> bool:
        """Forget the reservation of `upload_id` (cancelled by `upload`); unknown ids too."""

        async def work(tx: Transaction[Repos]) -> bool:
            return await tx.repos.reservations.delete(account_id, upload_id)

        return await self.uow.run(work)

    async def purge_expired(self) -> int:
        """Delete reservations that no longer count (grant expired more than `grace` ago).

        Every read ignores them already; this only keeps the collection small. Safe on every
        replica at once.
        """
        cutoff = self.cutoff()

        async def work(tx: Transaction[Repos]) -> int:
            return await tx.repos.reservations.purge(cutoff)

        count = await self.uow.run(work)
        if count:
            log.info("quota_reservations_purged", count=count)
        return count

    async def purge_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                with loop_span("quota purge reservations"):
                    await self.purge_expired()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("quota_reservation_purge_failed")

"""Applying events to the usage ledger, each exactly once, with the quota events they cause.

Every change goes through the document it concerns: the document's state (a sum of
bytes, its current version, its trash flag) is updated, and the account's counters move
by the difference the change made. Each part of a document's state is order-independent
(a sum, a maximum, a latest-by-event-time), so events arriving in any order, each applied
once, leave the same ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession as AsyncIOMotorClientSession

from docstore_events import QuotaExceeded, QuotaRestored
from docstore_events.notifications import QuotaWarningReached
from docstore_events.outbox import Outbox
from docstore_quota.adapters.usage_repository import UsageRepository, to_usage
from docstore_quota.domain.usage import (
    WARNING_PERCENTS,
    CountingRule,
    Crossing,
    DocumentState,
    Usage,
    crossing,
    delta,
    newer,
    warning_levels,
)

Session = AsyncIOMotorClientSession


class Ledger:
    """The usage ledger. Every method runs inside the caller's transaction."""

    def __init__(
        self,
        usage: UsageRepository,
        outbox: Outbox,
        caps: dict[str, int],
        rule: CountingRule = CountingRule(),
        warning_percents: tuple[int, ...] = WARNING_PERCENTS,
    ) -> None:
        self.usage = usage
        self.outbox = outbox
        self.caps = caps
        self.rule = rule
        self.warning_percents = warning_percents

    async def set_plan(self, account_id: str, plan: str, at: datetime, session: Session) -> Usage:
        """`account.created` and `account.plan-changed`: the latest by event time wins."""
        record = await self.usage.account(account_id, session)
        if not newer(at, record.get("plan_at")):
            return to_usage(record)  # an older plan event arriving late changes nothing
        usage = await self.usage.set_plan(account_id, plan, at, session)
        return await self._settle(usage, session)

    async def uploaded(self, account_id: str, document_id: str, size: int, base_version: int | None,
                       session: Session) -> Usage:
        version = (base_version or 0) + 1
        return await self._change(account_id, document_id, lambda d: d.add(size).version(version, size), session)

    async def modified(self, account_id: str, document_id: str, version: int, size: int, session: Session) -> Usage:
        return await self._change(account_id, document_id, lambda d: d.version(version, size), session)

    async def deleted(self, account_id: str, document_id: str, size: int, session: Session) -> Usage:
        return await self._change(account_id, document_id, lambda d: d.remove(size), session)

    async def trashed(self, account_id: str, document_id: str, trashed: bool, at: datetime, session: Session) -> Usage:
        return await self._change(account_id, document_id, lambda d: d.trash(trashed, at), session)

    async def _change(
        self, account_id: str, document_id: str, change: Callable[[DocumentState], DocumentState], session: Session
    ) -> Usage:
        before = await self.usage.document(document_id, session)
        after = change(before)
        await self.usage.save_document(account_id, document_id, after, session)
        moved = delta(before, after, self.rule)
        usage = await self.usage.add_counters(
            account_id, used=moved.used, stored=moved.stored, documents=moved.documents, session=session
        )
        return await self._settle(usage, session)

    async def _settle(self, usage: Usage, session: Session) -> Usage:
        """Flag or unflag the account and announce warning levels, each once per crossing."""
        cap = usage.cap(self.caps)
        change = crossing(usage, self.caps)
        warned, announce = warning_levels(usage.used_bytes, cap, usage.warned, self.warning_percents)
        over = usage.over_quota if change is Crossing.NONE else change is Crossing.EXCEEDED
        if warned != usage.warned or over != usage.over_quota:
            await self.usage.set_flags(usage.account_id, over_quota=over, warned=warned, session=session)
        facts = {"account_id": usage.account_id, "used_bytes": usage.used_bytes, "cap_bytes": cap, "plan": usage.plan}
        if change is not Crossing.NONE:
            event_class = QuotaExceeded if change is Crossing.EXCEEDED else QuotaRestored
            await self.outbox.add(event_class(**facts), session=session)
        if announce is not None:
            await self.outbox.add(QuotaWarningReached(percent=announce, **facts), session=session)
        return Usage(usage.account_id, usage.plan, usage.used_bytes, over, warned, usage.stored_bytes, usage.documents)

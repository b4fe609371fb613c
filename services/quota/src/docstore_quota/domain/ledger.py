"""Applying events to the usage ledger, each exactly once, with the quota events they cause."""

from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorClientSession

from docstore_events import QuotaExceeded, QuotaRestored
from docstore_events.outbox import Outbox
from docstore_quota.adapters.usage_repository import UsageRepository
from docstore_quota.domain.usage import Crossing, Usage, crossing


class Ledger:
    """The usage ledger. Every method runs inside the caller's transaction."""

    def __init__(self, usage: UsageRepository, outbox: Outbox, caps: dict[str, int]) -> None:
        self.usage = usage
        self.outbox = outbox
        self.caps = caps

    async def open_account(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> None:
        await self.usage.open(account_id, plan, session)

    async def change_plan(self, account_id: str, plan: str, session: AsyncIOMotorClientSession) -> None:
        await self._settle(await self.usage.set_plan(account_id, plan, session), session)

    async def add(self, account_id: str, size: int, session: AsyncIOMotorClientSession) -> None:
        await self._settle(await self.usage.add_bytes(account_id, size, session), session)

    async def remove(self, account_id: str, size: int, session: AsyncIOMotorClientSession) -> None:
        await self._settle(await self.usage.add_bytes(account_id, -size, session), session)

    async def _settle(self, usage: Usage, session: AsyncIOMotorClientSession) -> None:
        """Flag or unflag the account when it crossed its cap, and say so with an event."""
        change = crossing(usage, self.caps)
        if change is Crossing.NONE:
            return
        exceeded = change is Crossing.EXCEEDED
        await self.usage.set_over_quota(usage.account_id, exceeded, session)
        event_class = QuotaExceeded if exceeded else QuotaRestored
        await self.outbox.add(
            event_class(
                account_id=usage.account_id, used_bytes=usage.used_bytes, cap_bytes=usage.cap(self.caps), plan=usage.plan
            ),
            session=session,
        )

"""What quota answers about accounts: one account's usage and room, and the admin listings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from docstore_kit.pagination import InvalidCursor, cursor_offset, decode_cursor, encode_cursor, offset_cursor
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_quota.domain.usage import Usage
from docstore_quota.service_layer.ports import Repos
from docstore_quota.service_layer.reservations import Reservations

TOTAL_KEYS = ("accounts", "documents", "stored_bytes", "used_bytes", "over_quota")


@dataclass(frozen=True)
class AccountUsage:
    usage: Usage
    reserved_bytes: int
    """Bytes held by the account's live reservations."""


@dataclass(frozen=True)
class Totals:
    plans: dict[str, dict[str, Any]]
    all: dict[str, Any]


class Accounts:
    """Reads. `usage` reads from one snapshot (a transaction); the listings read `reads`,
    repositories outside any transaction. `totals_by_plan` refreshes the per-plan gauges and
    returns them (`adapters.metrics.refresh`)."""

    def __init__(
        self,
        uow: UnitOfWork[Repos],
        reads: Repos,
        reservations: Reservations,
        totals_by_plan: Callable[[], Awaitable[dict[str, dict[str, Any]]]],
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.reservations = reservations
        self.totals_by_plan = totals_by_plan

    async def usage(self, account_id: str) -> AccountUsage:
        """The account's usage and its live reserved bytes, read from one snapshot."""
        cutoff = self.reservations.cutoff()

        async def work(tx: Transaction[Repos]) -> AccountUsage:
            usage = await tx.repos.usage.get(account_id)
            live = await tx.repos.reservations.live(account_id, cutoff)
            return AccountUsage(usage, sum(r.size for r in live))

        return await self.uow.run(work)

    async def top(self, limit: int, cursor: str | None = None) -> tuple[list[AccountUsage], str | None]:
        """One page of the accounts using the most storage, and the next page's cursor (a position
        in the ranking, which moves as accounts grow: a browsing aid, not a snapshot)."""
        skip = cursor_offset(cursor)
        rows = await self.reads.usage.top(limit + 1, skip=skip)
        more = len(rows) > limit
        return await self._with_reservations(rows[:limit]), (offset_cursor(skip + limit) if more else None)

    async def over_quota(self, limit: int, cursor: str | None) -> tuple[list[AccountUsage], str | None]:
        """Flagged accounts after `cursor` (it holds the last account id shown), and the next page's cursor."""
        after = decode_cursor(cursor).get("after") if cursor else None
        if cursor and not isinstance(after, str):
            raise InvalidCursor("That page link does not belong to this list. Start again from the first page.")
        rows = await self.reads.usage.over_quota(limit + 1, after=after)
        more = len(rows) > limit
        rows = rows[:limit]
        return await self._with_reservations(rows), (encode_cursor({"after": rows[-1].account_id}) if more else None)

    async def totals(self) -> Totals:
        """Per plan and overall: accounts, documents, storage, average document size, over quota."""
        per_plan = await self.totals_by_plan()
        overall: dict[str, Any] = {k: sum(v[k] for v in per_plan.values()) for k in TOTAL_KEYS}
        documents = overall["documents"]
        overall["average_document_bytes"] = round(overall["stored_bytes"] / documents) if documents else 0
        return Totals(plans=per_plan, all=overall)

    async def _with_reservations(self, rows: list[Usage]) -> list[AccountUsage]:
        """Each account with its live reservations (one query for the page)."""
        cutoff = self.reservations.cutoff()
        reserved = await self.reads.reservations.reserved_by_account((u.account_id for u in rows), cutoff)
        return [AccountUsage(u, reserved.get(u.account_id, 0)) for u in rows]

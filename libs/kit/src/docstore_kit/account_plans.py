"""Asks `accounts` (the owner of identity) for an account's plan (read-only, within the region).

`indexer` and `quota` keep every account's plan from `account.created` /
`account.plan-changed`; those events arrive a moment after a sign-up or `PUT /account/plan`
answered. Only when their own record would refuse something (full-text search, room for an
upload) do they ask here, so a fresh sign-up or upgrade is honoured at once.
"""

from __future__ import annotations

import httpx
import structlog

log = structlog.get_logger(__name__)


class AccountPlans:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def plan(self, account_id: str) -> str | None:
        """The plan the accounts service holds for the account; None when it cannot say (unknown account,
        accounts unreachable): the caller then goes by its own record."""
        try:
            response = await self.http.get(f"/internal/accounts/{account_id}/plan")
        except httpx.HTTPError as error:
            log.warning("account_plan_unavailable", error=repr(error))
            return None
        if response.status_code != 200:
            if response.status_code != 404:
                log.warning("account_plan_unavailable", status=response.status_code)
            return None
        plan = response.json().get("plan")
        return str(plan) if plan else None

    async def aclose(self) -> None:
        await self.http.aclose()

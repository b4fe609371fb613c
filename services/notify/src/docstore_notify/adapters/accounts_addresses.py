"""Asks the accounts service for an account's current address (after an e-mail change was verified): the
address travels over this authenticated internal call, never in an event."""

from __future__ import annotations

import httpx


class AccountsUnreachable(Exception):
    """The accounts service did not answer: the event is retried (the consumer's ack policy)."""


class AccountsAddresses:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def address(self, account_id: str) -> str | None:
        """The account's verified address, None for an account the accounts service does not have here."""
        try:
            response = await self.http.get(f"/internal/accounts/{account_id}/email")
        except httpx.HTTPError as error:
            raise AccountsUnreachable(type(error).__name__) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise AccountsUnreachable(f"accounts answered {response.status_code}")
        email = response.json().get("email")
        return str(email) if email else None

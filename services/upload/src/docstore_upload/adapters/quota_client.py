"""Asks `quota` how much room an account has left (a read-only internal call)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


class QuotaUnavailable(Exception):
    """The quota service did not answer; grants wait rather than guess."""


@dataclass(frozen=True)
class Room:
    room_bytes: int
    cap_bytes: int
    over_quota: bool
    plan: str


class QuotaClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def room(self, account_id: str) -> Room:
        try:
            response = await self.http.get(f"/internal/accounts/{account_id}/room")
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise QuotaUnavailable(str(error)) from error
        body = response.json()
        return Room(body["room_bytes"], body["cap_bytes"], body["over_quota"], body["plan"])

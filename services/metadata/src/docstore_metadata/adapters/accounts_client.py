"""The accounts service, asked by `Owners` (`account_projection.py`) about an account metadata's
projection does not know yet or would refuse (issue 36): `GET /internal/accounts/{id}`,
`GET /internal/usernames/{username}`, `GET /internal/accounts/{id}/plan` and
`POST /internal/people/by-email` (the address in the body: access logs keep paths), authenticated
as metadata. An answer it cannot get (accounts away, an account it does not know) is None, or the
free plan: the projection's own row then decides."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import structlog

log = structlog.get_logger(__name__)

Doc = dict[str, Any]


class AccountsClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _get(self, path: str, *, json: Doc | None = None) -> Doc | None:
        try:
            response = await (self.http.get(path) if json is None else self.http.post(path, json=json))
        except httpx.HTTPError as error:
            log.warning("accounts_unavailable", error=type(error).__name__)
            return None
        if response.status_code != 200:
            if response.status_code != 404:
                log.warning("accounts_unavailable", status=response.status_code)
            return None
        found: Doc = response.json()
        return found

    @staticmethod
    def _row(answer: Doc | None) -> Doc | None:
        if answer is None:
            return None
        return {"_id": answer["id"], **{k: v for k, v in answer.items() if k != "id"}}

    async def by_id(self, account_id: str) -> Doc | None:
        return self._row(await self._get(f"/internal/accounts/{quote(account_id, safe='')}"))

    async def by_username(self, username: str) -> Doc | None:
        return self._row(await self._get(f"/internal/usernames/{quote(username, safe='')}"))

    async def by_email(self, address: str) -> Doc | None:
        return self._row(await self._get("/internal/people/by-email", json={"email": address}))

    async def plan_of(self, account_id: str) -> str:
        answer = await self._get(f"/internal/accounts/{quote(account_id, safe='')}/plan")
        return str((answer or {}).get("plan") or "free")

    async def aclose(self) -> None:
        await self.http.aclose()

"""Tells metadata, right after a deletion committed, to end what the account gave and was given
(`POST /internal/accounts/{id}/access-ended`: its links, shares and follows; issue 33 "at once").
Authenticated as the accounts service. Metadata does the same, idempotently, when it applies the
`account.deleted` event, so an answer this call cannot get (metadata away) loses nothing: the
links end a moment later instead."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import structlog

log = structlog.get_logger(__name__)


class MetadataAccess:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def end(self, account_id: str) -> None:
        try:
            response = await self.http.post(f"/internal/accounts/{quote(account_id, safe='')}/access-ended")
        except httpx.HTTPError as error:
            log.warning("access_end_deferred", account_id=account_id, error=type(error).__name__)
            return
        if response.status_code >= 300:
            log.warning("access_end_deferred", account_id=account_id, status=response.status_code)

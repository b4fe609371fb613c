"""Metadata's answer to "what may this account do with this document now?"
(`POST /internal/links/access`, as the links service: service identity), turned into a `Grant` here
so no use case reads a status code: a grant (ok), None (no such document, or not one the account
may see: gone for a link, 404 for a caller), or `MetadataUnavailable` (503 + Retry-After) when
metadata does not answer or fails."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx

from docstore_kit.errors import Unavailable
from docstore_links.domain.rights import Grant, Served

Serve = Literal["page", "download"]
ACCESS_PATH = "/internal/links/access"


class MetadataUnavailable(Unavailable):
    problem: ClassVar[str] = "unavailable"

    def __init__(self) -> None:
        super().__init__("Public links cannot be checked right now. Please try again in a moment.")


class MetadataClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def grant(
        self,
        document_id: str,
        account_id: str,
        *,
        version: int | None = None,
        serve: Serve | None = None,
        url_seconds: int = 60,
    ) -> Grant | None:
        """`account_id`'s right to `document_id` now, with `version` (None: the current one) and,
        for `serve`, a signed URL of its preview (page) or bytes (download, `url_seconds`)."""
        payload = {
            "document_id": document_id,
            "account_id": account_id,
            "version": version,
            "serve": serve,
            "url_seconds": url_seconds,
        }
        try:
            answer = await self.http.post(ACCESS_PATH, json=payload)
        except httpx.HTTPError as error:
            raise MetadataUnavailable() from error
        if answer.status_code != 200:
            raise MetadataUnavailable()
        return grant_of(answer.json())

    async def aclose(self) -> None:
        await self.http.aclose()


def grant_of(body: dict[str, Any]) -> Grant | None:
    found = body.get("grant")
    if found is None:
        return None
    served = found.get("served")
    return Grant(
        document_id=str(found["document_id"]),
        owner_id=str(found["owner_id"]),
        name=str(found["name"]),
        trashed=bool(found["trashed"]),
        current_version=int(found["current_version"]),
        access=found["access"],
        accounts_active=bool(found["accounts_active"]),
        verified=bool(found["verified"]),
        served=None
        if served is None
        else Served(
            number=int(served["number"]),
            size=int(served["size"]),
            content_type=str(served["content_type"]),
            preview_url=served.get("preview_url"),
            download_url=served.get("download_url"),
        ),
    )

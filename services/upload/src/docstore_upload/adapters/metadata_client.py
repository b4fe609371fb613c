"""Asks `metadata` about an existing document before granting a new version (read-only)."""

from __future__ import annotations

from typing import Any

import httpx

from docstore_kit import errors
from docstore_upload.domain.grants import CurrentDocument, StoredBytes

__all__ = ["CurrentDocument", "MetadataClient", "MetadataUnavailable"]


class MetadataUnavailable(errors.Unavailable):
    """The metadata service did not answer."""

    problem = "metadata-unavailable"

    def detail(self) -> str:
        return "This upload can't be checked right now. Try again in a moment."


class MetadataClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _found(self, path: str) -> dict[str, Any] | None:
        """GET `path`: its JSON body, None when metadata answers 404; MetadataUnavailable otherwise."""
        try:
            response = await self.http.get(path)
        except httpx.HTTPError as error:
            raise MetadataUnavailable(str(error)) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise MetadataUnavailable(f"metadata answered {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    async def document(self, account_id: str, document_id: str) -> CurrentDocument | None:
        """The document if the account may write it (its own, or shared with it to edit), else None."""
        body = await self._found(f"/internal/accounts/{account_id}/documents/{document_id}")
        if body is None:
            return None
        return CurrentDocument(
            document_id=body["document_id"],
            owner_id=body["owner_id"],
            current_version=body["current_version"],
            name=body["name"],
            path=body.get("path", "/"),
            trashed=body.get("trashed", False),
            current_bucket=body.get("current_bucket"),
            current_key=body.get("current_key"),
            current_size=body.get("current_size"),
            current_sha256=body.get("current_sha256"),
        )

    async def taken(self, account_id: str, places: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (folder, name) places a live document of the account holds (one request)."""
        if not places:
            return set()
        try:
            response = await self.http.post(
                f"/internal/accounts/{account_id}/names/taken",
                json={"places": [{"path": path, "name": name} for path, name in places]},
            )
        except httpx.HTTPError as error:
            raise MetadataUnavailable(str(error)) from error
        if response.status_code != 200:
            raise MetadataUnavailable(f"metadata answered {response.status_code}")
        return {(p["path"], p["name"]) for p in response.json()["taken"]}

    async def stored_bytes(self, account_id: str, sha256: str) -> StoredBytes | None:
        """Dedupe: a version of the account's own documents with these bytes, else None (metadata
        searches that account only)."""
        body = await self._found(f"/internal/accounts/{account_id}/bytes/{sha256}")
        if body is None:
            return None
        return StoredBytes(bucket=body["bucket"], key=body["key"], size=body["size"], sha256=body["sha256"])

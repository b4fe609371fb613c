"""Asks `metadata` about an existing document before granting a new version (read-only)."""

from __future__ import annotations

import httpx

from docstore_kit import errors
from docstore_upload.domain.grants import CurrentDocument

__all__ = ["CurrentDocument", "MetadataClient", "MetadataUnavailable"]


class MetadataUnavailable(errors.Unavailable):
    """The metadata service did not answer."""

    problem = "metadata-unavailable"

    def detail(self) -> str:
        return "This upload can't be checked right now. Try again in a moment."


class MetadataClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def document(self, account_id: str, document_id: str) -> CurrentDocument | None:
        """The document if the account may write it (its own, or shared with it to edit), else None."""
        try:
            response = await self.http.get(f"/internal/accounts/{account_id}/documents/{document_id}")
        except httpx.HTTPError as error:
            raise MetadataUnavailable(str(error)) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise MetadataUnavailable(f"metadata answered {response.status_code}")
        body = response.json()
        return CurrentDocument(
            document_id=body["document_id"],
            owner_id=body["owner_id"],
            current_version=body["current_version"],
            name=body["name"],
            path=body.get("path", "/"),
            trashed=body.get("trashed", False),
        )

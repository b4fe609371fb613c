"""What the links service asks at each public link's creation and use (issue 36): an account's
right to a document now, the version to serve, and the signed URLs a link hands out. Metadata owns
documents, shares and its projection of accounts, so the answer is always current: a link gives
nothing from the moment its creator's right ends (a share removed or made view-only, the document
trashed or deleted, an account deleted), with no event in between."""

from __future__ import annotations

from typing import Any, Literal

from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.adapters.storage import ObjectStore
from docstore_metadata.service_layer.previews import Previews

Serve = Literal["page", "download"]
SIGNED_URL_SECONDS = 60
"""A link's signed URL lives at most this long (the links service asks for its own, below it)."""


class LinkAccess:
    def __init__(self, reads: Repositories, store: ObjectStore, previews: Previews) -> None:
        self.reads = reads
        self.store = store
        self.previews = previews

    async def grant(
        self, document_id: str, account_id: str, *, version: int | None, serve: Serve | None, url_seconds: int
    ) -> dict[str, Any] | None:
        """`account_id`'s access to the document (None: it may not see it; a grantee sees no
        trashed document) with the document's facts, or None when there is no such document."""
        document = await self.reads.documents.get(document_id)
        if document is None:
            return None
        owner_id = str(document["account_id"])
        access: str | None = "owner"
        if account_id != owner_id:
            share = await self.reads.sharing.share_of(document_id, account_id)
            access = str(share["permission"]) if share and not document.get("trashed") else None
        active = True
        verified = True
        for holder in {owner_id, account_id}:
            account = await self.reads.owners.by_id(holder)
            active = active and (account is None or account.get("status") != "deleted")
            if holder == account_id and account is not None and account.get("email_verified", True) is False:
                verified = False
        number = version or int(document["current_version"])
        row = await self.reads.documents.version(document_id, number)
        served = None
        if row is not None:
            served = {
                "number": int(row["version"]),
                "size": int(row.get("size", 0)),
                "content_type": str(row.get("content_type", "application/octet-stream")),
                "preview_url": None,
                "download_url": None,
            }
            if serve == "page" and access is not None:
                served["preview_url"] = await self.previews.link_thumbnail(document_id, number)
            if serve == "download" and access is not None and active and not document.get("trashed"):
                served["download_url"] = await self.store.download_url(
                    bucket=row["bucket"],
                    key=row["key"],
                    filename=str(document["name"]),
                    expires_in=min(url_seconds, SIGNED_URL_SECONDS),
                )
        return {
            "document_id": document_id,
            "owner_id": owner_id,
            "name": str(document["name"]),
            "trashed": bool(document.get("trashed")),
            "current_version": int(document["current_version"]),
            "access": access,
            "accounts_active": active,
            "verified": verified,
            "served": served,
        }

"""The preview route: a short-lived signed URL for a version's thumbnail or large preview.

Bytes never pass through here: the answer names an S3 URL the browser loads itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_metadata.api.deps import ServicesDep
from docstore_metadata.api.schemas import DocumentIdPath, VersionPath
from docstore_metadata.service_layer.previews import Previews

router = APIRouter()


async def _previews(services: ServicesDep) -> Previews:
    return services.previews


PreviewsDep = Annotated[Previews, Depends(_previews)]


class PreviewUrlOut(BaseModel):
    """Where to load a version's preview image from, for a few minutes."""

    url: str = Field(description="A signed S3 GET URL (inline, the image's type); load it directly")
    expires_at: datetime = Field(description="When the URL stops working: ask again after that")
    width: int
    height: int
    content_type: str = Field(examples=["image/webp"])


@router.get(
    "/documents/{document_id}/versions/{version}/preview",
    tags=["documents"],
    summary="A short-lived signed URL for a version's preview image (small: the thumbnail, large: the pane)",
    responses=problem_responses(409),
)
async def preview_url(
    document_id: DocumentIdPath,
    version: VersionPath,
    account_id: CurrentAccountId,
    previews: PreviewsDep,
    size: Annotated[Literal["small", "large"], Query(description="small (about 256 px) or large (about 1024 px)")] = (
        "small"
    ),
) -> PreviewUrlOut:
    """The same permission check as a download (owner, or an account the document is shared
    with; anyone else gets 404 as for a missing document). 404 when the version has no preview
    (failed, a type without a renderer: show a typed icon) or is gone; 409 `{state: "pending"}`
    while it is being made."""
    return PreviewUrlOut(**await previews.url(account_id, document_id, version, size))

"""The preview route: a short-lived signed URL for a version's thumbnail or large preview.

Bytes never pass through here: the answer names an S3 URL the browser loads itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BaseModel, Field

from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_kit.text import Text
from docstore_metadata.api.deps import ServicesDep
from docstore_metadata.api.schemas import MAX_ID, DocumentIdPath, VersionPath, safe_id
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


MAX_BATCH = 50
"""A page of the file list (its `limit` is at most 50 too)."""


class PreviewWanted(BaseModel):
    document_id: Annotated[Text, Field(min_length=1, max_length=MAX_ID), AfterValidator(safe_id)]
    version: int = Field(ge=1, le=1_000_000_000)


class PreviewsIn(BaseModel):
    size: Literal["small", "large"] = Field("small", description="small (about 256 px) or large (about 1024 px)")
    items: list[PreviewWanted] = Field(min_length=1, max_length=MAX_BATCH, description="The versions, at most 50")


class PreviewItemOut(BaseModel):
    document_id: str
    version: int
    state: Literal["ready", "pending", "none"] = Field(
        description="ready: load `url`; pending: being made, ask again later; none: no preview to show "
        "(failed, a type without a renderer, no such version, or a document you cannot read): a typed icon"
    )
    url: str | None = Field(None, description="A signed S3 GET URL (inline, the image's type); load it directly")
    expires_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    content_type: str | None = Field(None, examples=["image/webp"])


class PreviewsOut(BaseModel):
    items: list[PreviewItemOut] = Field(description="One per item asked for, in the same order")


@router.post(
    "/documents/previews",
    tags=["documents"],
    summary="Signed URLs for the previews of up to 50 versions at once (a page of the grid)",
)
async def preview_urls(body: PreviewsIn, account_id: CurrentAccountId, previews: PreviewsDep) -> PreviewsOut:
    """What `GET /documents/{id}/versions/{n}/preview` answers, for many versions in one call and
    with the same permission check for each. Never an error for one item: a version the caller
    may not read is `none`, as one without a preview or that does not exist."""
    wanted = [(item.document_id, item.version) for item in body.items]
    return PreviewsOut(items=[PreviewItemOut(**item) for item in await previews.urls(account_id, wanted, body.size)])

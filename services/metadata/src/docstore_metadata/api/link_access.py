"""The links service's one question (issue 36): what may an account do with a document now
(`service_layer/link_access.py`). Internal: services only (service identity), as every
`/internal` route."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from docstore_kit.auth import ServiceCaller
from docstore_kit.text import Text
from docstore_metadata.api.deps import ServicesDep
from docstore_metadata.api.schemas import MAX_ID, MAX_VERSION

router = APIRouter(tags=["internal"])


class AccessIn(BaseModel):
    document_id: Text = Field(min_length=1, max_length=MAX_ID)
    account_id: Text = Field(min_length=1, max_length=MAX_ID)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION, description="None: the current version")
    serve: Literal["page", "download"] | None = Field(
        default=None, description="page: a signed URL of the small preview; download: of the bytes"
    )
    url_seconds: int = Field(default=60, ge=1, le=60)


class AccessOut(BaseModel):
    grant: dict[str, Any] | None = Field(description="None: no such document")


@router.post("/internal/links/access", summary="An account's right to a document now (the links service asks)")
async def link_access(body: AccessIn, services: ServicesDep, _caller: ServiceCaller) -> AccessOut:
    grant = await services.link_access.grant(
        body.document_id, body.account_id, version=body.version, serve=body.serve, url_seconds=body.url_seconds
    )
    return AccessOut(grant=grant)

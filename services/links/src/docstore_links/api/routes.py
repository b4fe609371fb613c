"""Routes of public share links: the owner's (`/documents/{id}/links`, `/links`, the link policy)
and the gateway's two internal ones behind its public page `/s/{token}` (resolve, redeem).

The token travels only in request bodies of the internal routes, never in a path, so no access
log line or trace attribute of this service can hold it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, Field

from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery, Page
from docstore_kit.text import Text
from docstore_links.bootstrap import Services
from docstore_links.domain import links as rules
from docstore_links.domain.links import LinkOptions
from docstore_links.service_layer.links import Links

_UNSAFE_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")
MAX_ID = 200
MAX_VERSION = 1_000_000_000
"""The highest version number a request may name (as metadata's routes)."""


def safe_id(value: str) -> str:
    """An id taken from a path: no control characters and no slashes (422), as metadata's routes."""
    if _UNSAFE_IN_ID.search(value):
        raise ValueError("must not contain control characters or slashes")
    return value


DocumentIdPath = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID, description="A document id, as DocStore returned it"),
    AfterValidator(safe_id),
]

Limit = Annotated[int, Query(ge=1, le=200)]
LinkIdPath = Annotated[
    str, Path(min_length=1, max_length=200, description="A link id, as DocStore returned it"), AfterValidator(safe_id)
]
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,512}$"

router = APIRouter(tags=["links"])


async def _links(request: Request) -> Links:
    services: Services = request.app.state.services
    return services.links


LinksDep = Annotated[Links, Depends(_links)]


class LinkIn(BaseModel):
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="A version to pin; none: the latest at download"
    )
    expires_in_days: int = Field(default=rules.DEFAULT_EXPIRY_DAYS, ge=1, le=rules.MAX_EXPIRY_DAYS)
    password: Text | None = Field(default=None, max_length=rules.MAX_PASSWORD, description="Asked on the link's page")
    download_limit: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Downloads allowed; none: no limit"
    )
    note: Text | None = Field(default=None, max_length=rules.MAX_NOTE, description="Shown on the link's page")


class LinkOut(BaseModel):
    id: str
    document_id: str
    document_name: str
    version: int | None = Field(description="The pinned version; null: the latest at download time")
    created_at: datetime
    created_by: str
    expires_at: datetime
    protected: bool = Field(description="Whether the link asks for a password")
    download_limit: int | None
    downloads: int
    note: str | None
    state: Literal["active", "expired", "revoked", "exhausted"]
    revoked_at: datetime | None


class CreatedLinkOut(LinkOut):
    token: str = Field(description="The link's secret, shown this once (only its hash is stored)")
    url: str = Field(description="The link's page on the gateway that answered: `/s/{token}`")


class LinkPage(Page[LinkOut]):
    """A page of links, newest first."""


class ExtendIn(BaseModel):
    expires_in_days: int = Field(ge=1, le=rules.MAX_EXPIRY_DAYS, description="The new expiry, counted from now")


class PolicyIn(BaseModel):
    editors_may_create_links: bool


class PolicyOut(BaseModel):
    document_id: str
    editors_may_create_links: bool


class TokenIn(BaseModel):
    token: Text = Field(pattern=TOKEN_PATTERN)


class RedeemIn(TokenIn):
    password: Text | None = Field(default=None, max_length=rules.MAX_PASSWORD)


class ResolvedOut(BaseModel):
    link_id: str
    name: str
    size: int
    content_type: str
    version: int
    note: str | None
    protected: bool
    expires_at: datetime
    download_limit: int | None
    downloads: int
    preview_url: str | None = Field(
        None,
        description="A signed GET (about 2 minutes) of the small preview, for the page to show; only for a link "
        "without a password, and only once the version has a preview",
    )


class RedeemedOut(BaseModel):
    url: str = Field(description="A signed S3 GET URL (at most 60 s), Content-Disposition attachment")
    expires_in: int
    name: str


def _out(link: dict[str, Any]) -> LinkOut:
    return LinkOut.model_validate(rules.view(link, datetime.now(UTC)))


@router.post(
    "/documents/{document_id}/links",
    status_code=status.HTTP_201_CREATED,
    summary="Create a public link to a document or one of its versions (the token is shown only here)",
    responses=problem_responses(410),
)
async def create_link(
    document_id: DocumentIdPath, body: LinkIn, account_id: CurrentAccountId, links: LinksDep
) -> CreatedLinkOut:
    options = LinkOptions(body.version, body.expires_in_days, body.password, body.download_limit, body.note)
    created = await links.create(account_id, document_id, options)
    return CreatedLinkOut(**_out(created.link).model_dump(), token=created.token, url=f"/s/{created.token}")


@router.get("/documents/{document_id}/links", summary="A document's public links (owner; editors when allowed)")
async def document_links(
    request: Request,
    document_id: DocumentIdPath,
    account_id: CurrentAccountId,
    links: LinksDep,
    limit: Limit = 50,
    cursor: CursorQuery = None,
) -> LinkPage:
    rows, next_cursor = await links.of_document(account_id, document_id, cursor=cursor, limit=limit)
    return LinkPage.of(request, [_out(row) for row in rows], next_cursor, limit)


@router.get("/links", summary="Every public link the caller created or that is on the caller's documents")
async def my_links(
    request: Request, account_id: CurrentAccountId, links: LinksDep, limit: Limit = 50, cursor: CursorQuery = None
) -> LinkPage:
    rows, next_cursor = await links.mine(account_id, cursor=cursor, limit=limit)
    return LinkPage.of(request, [_out(row) for row in rows], next_cursor, limit)


@router.patch(
    "/links/{link_id}",
    summary="Extend a link: its new expiry is `expires_in_days` from now (at most 90)",
    responses=problem_responses(410),
)
async def extend_link(link_id: LinkIdPath, body: ExtendIn, account_id: CurrentAccountId, links: LinksDep) -> LinkOut:
    return _out(await links.extend(account_id, link_id, body.expires_in_days))


@router.delete("/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a link for good")
async def revoke_link(link_id: LinkIdPath, account_id: CurrentAccountId, links: LinksDep) -> Response:
    await links.revoke(account_id, link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{document_id}/link-policy", summary="Whether editors may create links (anyone who sees it)")
async def link_policy(document_id: DocumentIdPath, account_id: CurrentAccountId, links: LinksDep) -> PolicyOut:
    return PolicyOut.model_validate(await links.policy(account_id, document_id))


@router.put("/documents/{document_id}/link-policy", summary="Whether editors may create links (owner only)")
async def set_link_policy(
    document_id: DocumentIdPath, body: PolicyIn, account_id: CurrentAccountId, links: LinksDep
) -> PolicyOut:
    return PolicyOut.model_validate(
        await links.set_policy(account_id, document_id, editors_may_create_links=body.editors_may_create_links)
    )


@router.post(
    "/internal/links/resolve",
    tags=["internal"],
    summary="What a link's public page shows (gateway only; counts nothing)",
    responses=problem_responses(410),
)
async def resolve_link(body: TokenIn, links: LinksDep, _caller: ServiceCaller) -> ResolvedOut:
    found = await links.resolve(body.token)
    link = found.link
    return ResolvedOut(
        link_id=link["_id"],
        name=found.name,
        size=found.size,
        content_type=found.content_type,
        version=found.version,
        note=link.get("note"),
        protected=rules.needs_password(link),
        expires_at=link["expires_at"],
        download_limit=link.get("download_limit"),
        downloads=int(link.get("downloads", 0)),
        preview_url=found.preview_url,
    )


@router.post(
    "/internal/links/redeem",
    tags=["internal"],
    summary="Every check, one download counted, and a signed URL (gateway only)",
    responses=problem_responses(401, 410),
)
async def redeem_link(body: RedeemIn, links: LinksDep, _caller: ServiceCaller) -> RedeemedOut:
    redeemed = await links.redeem(body.token, body.password)
    return RedeemedOut(url=redeemed.url, expires_in=redeemed.expires_in, name=redeemed.name)

"""HTTP routes of the identities linked to the caller's account (sign-in with OpenID Connect,
issue 36): the list, and unlinking one. Like app passwords: a signed-in session only (the gateway
refuses `/v1/account...` to an app password), paged like them, and the removal is audited
(`account.identity-unlinked`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, Field

from docstore_accounts.api.deps import ServicesDep
from docstore_accounts.api.schemas import safe_id
from docstore_accounts.service_layer.oidc import LinkedIdentities
from docstore_kit.auth import CurrentAccountId
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery, Page, cursor_offset, offset_cursor

router = APIRouter(tags=["accounts"])

MAX_LINKS = 100
"""An account links an identity per sign-in with a new one: a few. The page's offset stops here."""


async def _identities(services: ServicesDep) -> LinkedIdentities:
    assert services.identities is not None
    return services.identities


IdentitiesDep = Annotated[LinkedIdentities, Depends(_identities)]
IdentityIdPath = Annotated[
    str,
    Path(min_length=1, max_length=64, description="A linked identity's id, as the list gave it"),
    AfterValidator(safe_id),
]


class LinkedIdentityOut(BaseModel):
    identity_id: str
    provider: str = Field(description="The provider's name (the configured one's), else its issuer URL")
    issuer: str
    linked_at: datetime
    last_signed_in_at: datetime | None = Field(None, description="The last sign-in through it (null: none recorded)")
    can_unlink: bool = Field(
        description="false: it is the account's last way in (no password, or password sign-in is off here)"
    )


class LinkedIdentityPage(Page[LinkedIdentityOut]):
    pass


def _out(row: dict[str, Any]) -> LinkedIdentityOut:
    return LinkedIdentityOut(
        identity_id=row["identity_id"],
        provider=row["provider"],
        issuer=row["issuer"],
        linked_at=row["linked_at"],
        last_signed_in_at=row.get("last_signed_in_at"),
        can_unlink=row["can_unlink"],
    )


@router.get(
    "/account/identities",
    summary="The identity providers' identities linked to the caller's account",
    responses=problem_responses(404),
)
async def list_identities(
    request: Request,
    account_id: CurrentAccountId,
    identities: IdentitiesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> LinkedIdentityPage:
    """Oldest link first, with when each was linked and last used to sign in."""
    offset = cursor_offset(cursor, limit=MAX_LINKS)
    rows = await identities.list(account_id)
    page = rows[offset : offset + limit]
    next_cursor = offset_cursor(offset + limit) if offset + limit < len(rows) else None
    return LinkedIdentityPage.of(request, [_out(row) for row in page], next_cursor, limit)


@router.delete(
    "/account/identities/{identity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlink an identity: it no longer signs in to this account by its link",
    responses=problem_responses(404, 409),
)
async def unlink_identity(
    identity_id: IdentityIdPath, account_id: CurrentAccountId, identities: IdentitiesDep
) -> Response:
    """409 `last-way-in` for the account's last way in (no password: set one first, through the
    password-reset mail). Sessions stay. A later sign-in with that identity links again only when
    the provider vouches for the account's verified address."""
    await identities.unlink(account_id, identity_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

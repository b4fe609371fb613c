"""HTTP routes of app passwords (issue 36): the owner's list, create (shown once) and revoke, and
the gateway's internal check of a username and app password (HTTP Basic at the edge).

The gateway refuses every `/v1/account...` route to a request made with an app password, so these
public routes are reached with a signed-in session only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from docstore_accounts.api.deps import ServicesDep, SettingsDep
from docstore_accounts.api.schemas import MAX_ID, safe_id
from docstore_accounts.domain.app_passwords import MAX_PER_ACCOUNT, NAME_MAX
from docstore_accounts.service_layer.app_passwords import AppPasswords
from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery, Page, cursor_offset, offset_cursor
from docstore_kit.text import Text

router = APIRouter()


async def _app_passwords(services: ServicesDep) -> AppPasswords:
    return services.app_passwords


AppPasswordsDep = Annotated[AppPasswords, Depends(_app_passwords)]
AppPasswordIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_ID, description="An app password's id"), AfterValidator(safe_id)
]
Scope = Literal["webdav-sync", "read-only"]


class AppPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=NAME_MAX, examples=["rclone on the NAS"])
    scope: Scope = Field(
        "webdav-sync", description="`webdav-sync`: the files, read and write; `read-only`: GET requests only"
    )


class AppPasswordOut(BaseModel):
    app_password_id: str
    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None = Field(None, description="Recorded at most once a minute")


class AppPasswordCreatedOut(AppPasswordOut):
    password: str = Field(description="Shown this once: it is stored as a digest only")
    username: str = Field(description="What to type beside it (HTTP Basic: username and app password)")


class AppPasswordPage(Page[AppPasswordOut]):
    pass


class AppPasswordCheckIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)


class AppPasswordCheckOut(BaseModel):
    account_id: str
    role: str
    app_password_id: str
    scope: Scope


def _out(row: dict[str, Any]) -> AppPasswordOut:
    return AppPasswordOut(
        app_password_id=row["_id"],
        name=row["name"],
        scope=row["scope"],
        created_at=row["created_at"],
        last_used_at=row.get("last_used_at"),
    )


@router.get("/account/app-passwords", tags=["accounts"], summary="The caller's app passwords, with their last use")
async def list_app_passwords(
    request: Request,
    account_id: CurrentAccountId,
    app_passwords: AppPasswordsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> AppPasswordPage:
    """Oldest first; an account has at most 50, so the first page usually holds them all."""
    offset = cursor_offset(cursor, limit=MAX_PER_ACCOUNT)
    rows = await app_passwords.list(account_id)
    page = rows[offset : offset + limit]
    next_cursor = offset_cursor(offset + limit) if offset + limit < len(rows) else None
    return AppPasswordPage.of(request, [_out(row) for row in page], next_cursor, limit)


@router.post(
    "/account/app-passwords",
    status_code=status.HTTP_201_CREATED,
    tags=["accounts"],
    summary="Create an app password for one tool (WebDAV, rclone, scripts): shown once",
    responses=problem_responses(409, 422),
)
async def create_app_password(
    body: AppPasswordIn, account_id: CurrentAccountId, app_passwords: AppPasswordsDep, response: Response
) -> AppPasswordCreatedOut:
    """It works with the username over HTTP Basic (`Authorization: Basic base64(username:password)`),
    also for an account with two-step sign-in; never for the web app's login nor for the account's
    own settings. The answer is not cached (`Cache-Control: no-store`)."""
    created = await app_passwords.create(account_id, body.name, body.scope)
    response.headers["Cache-Control"] = "no-store"
    return AppPasswordCreatedOut(**_out(created.row).model_dump(), password=created.secret, username=created.username)


@router.delete(
    "/account/app-passwords/{app_password_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["accounts"],
    summary="Revoke an app password: the tool using it is refused from then on",
    responses=problem_responses(404),
)
async def revoke_app_password(
    app_password_id: AppPasswordIdPath, account_id: CurrentAccountId, app_passwords: AppPasswordsDep
) -> Response:
    await app_passwords.revoke(account_id, app_password_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/internal/app-passwords/verify",
    tags=["internal"],
    summary="Check a username and app password (gateway only): 200, 401, or 421 `{home_region}`",
    responses=problem_responses(401),
)
async def verify_app_password(
    body: AppPasswordCheckIn, app_passwords: AppPasswordsDep, settings: SettingsDep, _caller: ServiceCaller
) -> AppPasswordCheckOut:
    found = await app_passwords.verify(body.username, body.password)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or app password")
    return AppPasswordCheckOut(
        account_id=found.account["_id"],
        role=settings.role_of(found.account),
        app_password_id=found.app_password_id,
        scope=found.scope,  # type: ignore[arg-type]
    )

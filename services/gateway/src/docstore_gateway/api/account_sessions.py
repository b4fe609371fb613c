"""The caller's sessions as devices: `GET /v1/account/sessions` (paginated, the current one
marked), `DELETE /v1/account/sessions/{session_id}` (end one), `DELETE /v1/account/sessions`
(`?keep=current`: every other one; without it, every one, as `DELETE /v1/sessions`).

The gateway's own routes (sessions live here, not in a service behind it): they come before the
forwarding route, and refusals are `GatewayError`s answered by the one handler."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from docstore_gateway.api.deps import LoginsDep, ServicesDep
from docstore_gateway.bootstrap import Services
from docstore_gateway.service_layer.devices import AccountSessions
from docstore_kit.errors import problem_responses
from docstore_kit.pagination import CursorQuery, Page, cursor_offset, offset_cursor

router = APIRouter(prefix="/v1", tags=["sessions"])


async def _account_sessions(services: ServicesDep) -> AccountSessions:
    return services.account_sessions


AccountSessionsDep = Annotated[AccountSessions, Depends(_account_sessions)]


class DeviceOut(BaseModel):
    session_id: str = Field(description="Pass to DELETE /v1/account/sessions/{session_id} to end it")
    client: str = Field(description='The user agent in short form, e.g. "Firefox 133 on Ubuntu"')
    address: str = Field(description="The client address the gateway saw at the login or the last refresh")
    region: str
    created_at: datetime = Field(description="When this session's login happened")
    last_seen_at: datetime = Field(description="The login, or its last refresh")
    current: bool = Field(description="The session making this request")


class DevicePage(Page[DeviceOut]):
    """A page of the caller's live sessions, newest login first."""


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@router.get(
    "/account/sessions",
    summary="The caller's signed-in sessions (devices), newest first",
    responses=problem_responses(401),
)
async def list_sessions(
    request: Request,
    response: Response,
    account_sessions: AccountSessionsDep,
    authorization: Annotated[str | None, Header()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = None,
) -> DevicePage:
    offset = cursor_offset(cursor)
    found = await account_sessions.list(authorization, offset=offset, limit=limit, target=_target(request))
    response.headers["Cache-Control"] = "no-store"
    items = [
        DeviceOut(
            session_id=device.session_id,
            client=device.client,
            address=device.address,
            region=device.region,
            created_at=device.created_at,
            last_seen_at=device.last_seen_at,
            current=device.session_id == found.current,
        )
        for device in found.devices
    ]
    next_cursor = offset_cursor(found.next_offset) if found.next_offset is not None else None
    return DevicePage.of(request, items, next_cursor, limit)


@router.delete(
    "/account/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End one of the caller's sessions (sign that device out)",
    responses=problem_responses(401, 404),
)
async def end_session(
    request: Request,
    account_sessions: AccountSessionsDep,
    session_id: Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")],
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    await account_sessions.revoke(authorization, session_id, target=_target(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/account/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the caller's other sessions (`keep=current`), or every one",
    responses=problem_responses(401),
)
async def end_sessions(
    request: Request,
    account_sessions: AccountSessionsDep,
    logins: LoginsDep,
    services: ServicesDep,
    keep: Annotated[
        Literal["current"] | None, Query(description="`current`: keep the session making the request")
    ] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    if keep == "current":
        await account_sessions.revoke_others(authorization, target=_target(request))
    else:
        await logins.log_out_everywhere(authorization, query=request.url.query)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["Services", "router"]

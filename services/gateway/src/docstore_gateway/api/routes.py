"""The public API: log in and out here; everything else is authenticated and forwarded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from docstore_gateway.adapters.sessions import Caller, SessionStore
from docstore_gateway.adapters.upstreams import (
    RETURNED_HEADERS,
    UpstreamUnavailable,
    Upstreams,
    admin_only,
    is_public,
    owner_of,
)


def _sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


SessionsDep = Annotated[SessionStore, Depends(_sessions)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]

router = APIRouter(prefix="/v1")


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    account_id: str
    expires_at: datetime


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _caller_or_401(sessions: SessionStore, authorization: str | None) -> tuple[str, Caller]:
    token = bearer_token(authorization)
    caller = await sessions.caller_for(token) if token else None
    if token is None or caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required: log in at POST /v1/sessions",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token, caller


@router.post("/sessions", status_code=status.HTTP_201_CREATED, tags=["sessions"], summary="Log in")
async def log_in(body: LoginIn, sessions: SessionsDep, upstreams: UpstreamsDep) -> SessionOut:
    try:
        response = await upstreams.forward(
            "metadata", "POST", "internal/credentials/verify", query="",
            headers={"content-type": "application/json"}, body=body.model_dump_json().encode(), caller=None,
        )
    except UpstreamUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "accounts are unavailable; try again") from error
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    if response.status_code != status.HTTP_200_OK:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, "accounts answered unexpectedly")
    account = response.json()
    issued = await sessions.create(account["account_id"], account.get("role", "user"))
    return SessionOut(token=issued.token, account_id=issued.account_id, expires_at=issued.expires_at)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, tags=["sessions"], summary="Log out")
async def log_out(sessions: SessionsDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    token, _ = await _caller_or_401(sessions, authorization)
    await sessions.revoke(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def forward(path: str, request: Request, sessions: SessionsDep, upstreams: UpstreamsDep) -> Response:
    service = owner_of(path)
    if service is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no such route: /v1/{path}")
    caller = None
    if not is_public(request.method, path):
        _, caller = await _caller_or_401(sessions, request.headers.get("authorization"))
        if admin_only(path) and caller.role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for administrators")
    body = await request.body()
    if len(body) > request.app.state.settings.max_body_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "request body too large: file bytes go straight to S3")
    try:
        response = await upstreams.forward(
            service, request.method, path, query=request.url.query, headers=dict(request.headers), body=body,
            caller=caller,
        )
    except UpstreamUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{error} is unavailable; try again") from error
    headers = {name: value for name, value in response.headers.items() if name.lower() in RETURNED_HEADERS}
    return Response(content=response.content, status_code=response.status_code, headers=headers)

"""The public API: log in and out here; everything else is authenticated and forwarded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from docstore_gateway.adapters.sessions import Caller, SessionStore, token_region
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


class WrongRegion(Exception):
    """The request belongs to an account whose home is another region."""

    def __init__(self, home_region: str) -> None:
        super().__init__(home_region)
        self.home_region = home_region


def home_redirect(request: Request, home_region: str) -> JSONResponse:
    """307 to the same path at the home region's gateway, with a machine-readable body.

    307 (not 302/303) keeps the method and body, so a login POST is repeated there."""
    gateways = request.app.state.settings.gateways()
    base = gateways.get(home_region)
    if not base:
        return JSONResponse(status_code=status.HTTP_502_BAD_GATEWAY, content={
            "detail": f"this account's home is region {home_region}, whose gateway is not configured here",
            "home_region": home_region,
        })
    location = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(
        status_code=status.HTTP_307_TEMPORARY_REDIRECT,
        headers={"Location": location},
        content={"detail": f"this account's home is region {home_region}: repeat the request at {base}",
                 "home_region": home_region, "location": location},
    )


async def _caller_or_401(sessions: SessionStore, authorization: str | None) -> tuple[str, Caller]:
    token = bearer_token(authorization)
    caller = await sessions.caller_for(token) if token else None
    if token is not None and caller is None:
        issuer = token_region(token)
        if issuer and sessions.region and issuer != sessions.region:
            raise WrongRegion(issuer)
    if token is None or caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required: log in at POST /v1/sessions",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token, caller


@router.post(
    "/sessions", status_code=status.HTTP_201_CREATED, tags=["sessions"], summary="Log in", response_model=SessionOut,
    responses={307: {"description": "The account's home is another region: `Location` is the same path at its "
                                    "gateway; body `{detail, home_region, location}`"},
               409: {"description": "The account lost its username to a simultaneous sign-up in another region"}},
)
async def log_in(body: LoginIn, request: Request, sessions: SessionsDep, upstreams: UpstreamsDep) -> Any:
    try:
        response = await upstreams.forward(
            "metadata", "POST", "internal/credentials/verify", query="",
            headers={"content-type": "application/json"}, body=body.model_dump_json().encode(), caller=None,
            as_service=True,
        )
    except UpstreamUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "accounts are unavailable; try again") from error
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    if response.status_code == status.HTTP_421_MISDIRECTED_REQUEST:  # a replica: home elsewhere
        return home_redirect(request, response.json()["home_region"])
    if response.status_code == status.HTTP_409_CONFLICT:  # lost its username: say so, as metadata put it
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content=response.json())
    if response.status_code != status.HTTP_200_OK:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, "accounts answered unexpectedly")
    account = response.json()
    issued = await sessions.create(account["account_id"], account.get("role", "user"))
    return SessionOut(token=issued.token, account_id=issued.account_id, expires_at=issued.expires_at)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, tags=["sessions"], summary="Log out")
async def log_out(
    request: Request, sessions: SessionsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    try:
        token, _ = await _caller_or_401(sessions, authorization)
    except WrongRegion as wrong:
        return home_redirect(request, wrong.home_region)
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
        try:
            _, caller = await _caller_or_401(sessions, request.headers.get("authorization"))
        except WrongRegion as wrong:
            return home_redirect(request, wrong.home_region)
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
    if caller and request.method == "DELETE" and path.strip("/") == "account" and response.status_code == 204:
        await sessions.revoke_account(caller.account_id)  # a deleted account keeps no session
    headers = {name: value for name, value in response.headers.items() if name.lower() in RETURNED_HEADERS}
    return Response(content=response.content, status_code=response.status_code, headers=headers)

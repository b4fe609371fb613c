"""The public API: log in and out here; everything else is authenticated and forwarded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from docstore_gateway.adapters.sessions import Caller, SessionStore, token_region
from docstore_gateway.adapters.throttle import Throttle
from docstore_gateway.adapters.upstreams import RETURNED_HEADERS, UpstreamUnavailable, Upstreams
from docstore_gateway.domain import tokens
from docstore_gateway.domain.routing import SIGN_UP, BadPath, MethodNotAllowed, checked_segments, resolve


def _sessions(request: Request) -> SessionStore:
    return request.app.state.sessions


def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


def _throttle(request: Request) -> Throttle:
    return request.app.state.throttle


SessionsDep = Annotated[SessionStore, Depends(_sessions)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]
ThrottleDep = Annotated[Throttle, Depends(_throttle)]

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


def home_redirect(request: Request, home_region: str, path: str) -> JSONResponse:
    """307 to `path` (the gateway's own canonical spelling) at the home region's gateway, with a
    machine-readable body. 307 (not 302/303) keeps the method and body, so a login POST is repeated there."""
    gateways = request.app.state.settings.gateways()
    base = gateways.get(home_region)
    if not base:  # `home_region` comes from metadata's replica, never from the client
        return JSONResponse(status_code=status.HTTP_502_BAD_GATEWAY, content={
            "detail": f"this account's home is region {home_region}, whose gateway is not configured here",
            "home_region": home_region,
        })
    location = base + path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(
        status_code=status.HTTP_307_TEMPORARY_REDIRECT,
        headers={"Location": location},
        content={"detail": f"this account's home is region {home_region}: repeat the request at {base}",
                 "home_region": home_region, "location": location},
    )


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required: log in at POST /v1/sessions",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _caller_or_401(request: Request, sessions: SessionStore, authorization: str | None) -> tuple[str, Caller]:
    token = bearer_token(authorization)
    # A token that is not `<known region>.<urlsafe random>` is refused unread: no lookup, no redirect
    # to a region the client made up, and nothing of it repeated back.
    if token is None or not tokens.well_formed(token, request.app.state.settings.known_regions()):
        raise _unauthenticated()
    caller = await sessions.caller_for(token)
    if caller is None:
        issuer = token_region(token)
        if issuer and sessions.region and issuer != sessions.region:
            raise WrongRegion(issuer)
        raise _unauthenticated()
    return token, caller


def client_address(request: Request) -> str:
    """Who is calling, for throttling: the peer address uvicorn reports (behind a proxy, the
    address uvicorn takes from X-Forwarded-For when the proxy is in --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def too_many(wait: int, what: str) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(wait)},
        content={"detail": f"too many {what}: try again in {wait} seconds"},
    )


@router.post(
    "/sessions", status_code=status.HTTP_201_CREATED, tags=["sessions"], summary="Log in", response_model=SessionOut,
    responses={307: {"description": "The account's home is another region: `Location` is the same path at its "
                                    "gateway; body `{detail, home_region, location}`"},
               409: {"description": "The account lost its username to a simultaneous sign-up in another region"}},
)
async def log_in(
    body: LoginIn, request: Request, sessions: SessionsDep, upstreams: UpstreamsDep, throttle: ThrottleDep
) -> Any:
    if wait := await throttle.login_attempt(body.username, client_address(request)):
        return too_many(wait, "login attempts for this account or from this address")
    try:
        response = await upstreams.forward(
            "metadata", "POST", "internal/credentials/verify", query="",
            headers={"content-type": "application/json"}, body=body.model_dump_json().encode(), caller=None,
            as_service=True,
        )
    except UpstreamUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "accounts are unavailable; try again") from error
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        await throttle.login_failed(body.username)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    if response.status_code == status.HTTP_421_MISDIRECTED_REQUEST:  # a replica: home elsewhere
        return home_redirect(request, response.json()["home_region"], "/v1/sessions")
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
        token, _ = await _caller_or_401(request, sessions, authorization)
    except WrongRegion as wrong:
        return home_redirect(request, wrong.home_region, "/v1/sessions/current")
    await sessions.revoke(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def forward(
    path: str, request: Request, sessions: SessionsDep, upstreams: UpstreamsDep, throttle: ThrottleDep
) -> Response:
    # Only what the route table names goes on, under a path rebuilt from checked segments. The
    # edge middleware already refused malformed paths; checking again keeps this route safe alone.
    try:
        segments = checked_segments(request.scope.get("raw_path"), request.scope["path"])
        found = resolve(request.method, segments[1:])
    except BadPath as bad:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(bad)) from None
    except MethodNotAllowed as other:
        raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED, "this route does not take this method",
                            headers={"Allow": ", ".join(other.allowed)}) from None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such route: see /docs for the API")
    route, canonical = found.route, found.path
    caller = None
    if not route.public:
        try:
            _, caller = await _caller_or_401(request, sessions, request.headers.get("authorization"))
        except WrongRegion as wrong:
            return home_redirect(request, wrong.home_region, f"/v1/{canonical}")
        if route.admin and caller.role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this route is for administrators")
    if route is SIGN_UP and (wait := await throttle.sign_up(client_address(request))):
        return too_many(wait, "sign-ups from this address")
    body = await request.body()
    if len(body) > request.app.state.settings.max_body_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "request body too large: file bytes go straight to S3")
    try:
        response = await upstreams.forward(
            route.service, request.method, canonical, query=request.url.query, headers=dict(request.headers),
            body=body, caller=caller,
        )
    except UpstreamUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{error} is unavailable; try again") from error
    if caller and (route.method, route.template) == ("DELETE", "/account") and response.status_code == 204:
        await sessions.revoke_account(caller.account_id)  # a deleted account keeps no session
    headers = {name: value for name, value in response.headers.items() if name.lower() in RETURNED_HEADERS}
    return Response(content=response.content, status_code=response.status_code, headers=headers)

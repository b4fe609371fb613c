"""The public API: log in, refresh and log out here; everything else is authenticated and forwarded.

A login or a refresh answers the access token in the body (bearer clients read it there) and
sets the refresh token as an `HttpOnly; Secure; SameSite=Strict` cookie on `/v1/sessions` only:
page scripts cannot read it, other sites' pages cannot send it, and no other route receives it.

The routes only translate HTTP to the use cases (`service_layer/`) and back; refusals are
`GatewayError`s, answered by the one handler (`api/errors.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, Field

from docstore_gateway.api.deps import ForwardingDep, LoginsDep, ServicesDep
from docstore_gateway.domain.sessions import Issued
from docstore_gateway.service_layer.forwarding import Incoming
from docstore_gateway.settings import Settings
from docstore_kit.errors import PROBLEM_JSON, Problem, problem_responses
from docstore_kit.text import Text

router = APIRouter(prefix="/v1")


class LoginIn(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)
    refresh_token_in_body: bool = False
    """For programs that keep their own session (the sync client): the refresh token comes in the
    body, and no cookie is set. Browsers leave it false, so no script ever sees a refresh token."""


class MfaIn(BaseModel):
    mfa_ticket: Text = Field(min_length=1, max_length=2048)
    """The ticket from the login's 401 `mfa_required` answer (5 minutes, works once)."""
    code: Text = Field(min_length=6, max_length=32)
    """The 6-digit code from the authenticator app, or one of the recovery codes."""
    refresh_token_in_body: bool = False
    """As for the login: a program that keeps its own session gets the refresh token in the body."""


class RefreshIn(BaseModel):
    refresh_token: Text = Field(min_length=1, max_length=512)
    """A program's refresh token (browsers send the cookie and no body)."""


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    account_id: str
    expires_at: datetime
    refresh_token: str | None = None
    """Only for a login with `refresh_token_in_body`, and for a refresh of a body's token."""
    refresh_expires_at: datetime | None = None


COOKIE_PATH = "/v1/sessions"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Answers carrying tokens are never cached (RFC 6749 5.1)."""


def refresh_cookie_name(settings: Settings) -> str:
    """`__Secure-` makes browsers refuse the cookie unless it is Secure and set over a secure origin."""
    return "__Secure-docstore-refresh" if settings.session_cookie_secure else "docstore-refresh"


def _set_refresh_cookie(response: Response, settings: Settings, issued: Issued) -> None:
    response.set_cookie(
        refresh_cookie_name(settings),
        issued.refresh.token,
        max_age=settings.session_ttl_seconds,
        path=COOKIE_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _clear_refresh_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        refresh_cookie_name(settings),
        path=COOKIE_PATH,
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _session_out(issued: Issued, response: Response, settings: Settings, *, in_body: bool = False) -> SessionOut:
    response.headers.update(NO_STORE)
    access = issued.access
    out = SessionOut(token=access.token, account_id=access.account_id, expires_at=access.expires_at)
    if in_body:
        return out.model_copy(
            update={"refresh_token": issued.refresh.token, "refresh_expires_at": issued.refresh.expires_at}
        )
    _set_refresh_cookie(response, settings, issued)
    return out


def client_address(request: Request) -> str:
    """Who is calling, for throttling and the device list: the peer address, or, when the peer
    is a trusted proxy (Settings.trusted_proxies), the right-most untrusted address of its
    X-Forwarded-For (main.py installs uvicorn's ProxyHeadersMiddleware for exactly those)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    tags=["sessions"],
    summary="Log in",
    response_model=SessionOut,
    response_model_exclude_none=True,
    responses={
        307: {
            "description": "The account's home is another region: `Location` is the same path at its "
            "gateway; body `{detail, home_region, location}`"
        },
        409: {"description": "The account lost its username to a simultaneous sign-up in another region"},
        401: {
            "description": "Wrong username or password; or, for an account with two-step sign-in, "
            "`{detail, mfa_required: true, mfa_ticket}`: send the ticket and a code to `POST /v1/sessions/mfa`",
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
        },
        **problem_responses(429, 503),
    },
)
async def log_in(
    body: LoginIn, request: Request, response: Response, logins: LoginsDep, services: ServicesDep
) -> SessionOut:
    """The access token (`token`, minutes) in the body; the refresh token in an HttpOnly cookie."""
    issued = await logins.log_in(
        body.username,
        body.password,
        address=client_address(request),
        query=request.url.query,
        user_agent=request.headers.get("user-agent"),
    )
    return _session_out(issued, response, services.settings, in_body=body.refresh_token_in_body)


@router.post(
    "/sessions/mfa",
    status_code=status.HTTP_201_CREATED,
    tags=["sessions"],
    summary="Log in, second step: the ticket and a code from the authenticator app (or a recovery code)",
    response_model=SessionOut,
    response_model_exclude_none=True,
    responses={
        307: {"description": "The ticket was issued by another region's gateway: repeat there"},
        **problem_responses(401, 429, 503),
    },
)
async def log_in_second_step(
    body: MfaIn, request: Request, response: Response, logins: LoginsDep, services: ServicesDep
) -> SessionOut:
    """The same answer as a login. 401 `wrong-code` (try again while the ticket lasts, throttled
    like passwords), 401 `mfa-ticket-refused` (expired or used: sign in again with the password)."""
    issued = await logins.complete_mfa(
        body.mfa_ticket,
        body.code,
        address=client_address(request),
        query=request.url.query,
        user_agent=request.headers.get("user-agent"),
    )
    return _session_out(issued, response, services.settings, in_body=body.refresh_token_in_body)


@router.post(
    "/sessions/refresh",
    tags=["sessions"],
    summary="Refresh: a new access token for the refresh cookie",
    response_model=SessionOut,
    response_model_exclude_none=True,
    responses={
        307: {"description": "The refresh token was issued by another region: repeat there"},
        **problem_responses(401, 503),
    },
)
async def refresh(
    request: Request, response: Response, logins: LoginsDep, services: ServicesDep, body: RefreshIn | None = None
) -> SessionOut:
    """Spends the refresh cookie (each refresh token works once) for a new access token and a new
    refresh cookie; a program sends `{"refresh_token"}` instead and gets the next one in the body.
    A refresh token presented a second time revokes its whole session: 401."""
    settings = services.settings
    token = body.refresh_token if body else request.cookies.get(refresh_cookie_name(settings))
    issued = await logins.refresh(token, query=request.url.query, address=client_address(request))
    return _session_out(issued, response, settings, in_body=body is not None)


@router.delete(
    "/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["sessions"],
    summary="Log out",
    responses=problem_responses(401),
)
async def log_out(
    request: Request, logins: LoginsDep, services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Ends this session (the bearer token's, or without one the refresh cookie's) and clears the cookie."""
    settings = services.settings
    await logins.log_out(
        authorization, refresh_token=request.cookies.get(refresh_cookie_name(settings)), query=request.url.query
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_refresh_cookie(response, settings)
    return response


@router.delete(
    "/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["sessions"],
    summary="Log out of all devices",
    responses=problem_responses(401),
)
async def log_out_everywhere(
    request: Request, logins: LoginsDep, services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Ends every session of the account: refresh tokens revoked, access tokens refused at once."""
    await logins.log_out_everywhere(authorization, query=request.url.query)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_refresh_cookie(response, services.settings)
    return response


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def forward(path: str, request: Request, forwarding: ForwardingDep) -> Response:
    answer = await forwarding.forward(
        Incoming(
            method=request.method,
            raw_path=request.scope.get("raw_path"),
            path=request.scope["path"],
            query=request.url.query,
            headers=dict(request.headers),
            body=request.body,
            address=client_address(request),
        )
    )
    return Response(content=answer.content, status_code=answer.status, headers=answer.headers)

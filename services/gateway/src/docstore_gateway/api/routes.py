"""The public API: log in and out here; everything else is authenticated and forwarded.

The routes only translate HTTP to the use cases (`service_layer/`) and back; refusals are
`GatewayError`s, answered by the one handler (`api/errors.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, Field

from docstore_gateway.api.deps import ForwardingDep, LoginsDep
from docstore_gateway.service_layer.forwarding import Incoming
from docstore_kit.errors import problem_responses

router = APIRouter(prefix="/v1")


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    account_id: str
    expires_at: datetime


def client_address(request: Request) -> str:
    """Who is calling, for throttling: the peer address uvicorn reports (behind a proxy, the
    address uvicorn takes from X-Forwarded-For when the proxy is in --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    tags=["sessions"],
    summary="Log in",
    response_model=SessionOut,
    responses={
        307: {
            "description": "The account's home is another region: `Location` is the same path at its "
            "gateway; body `{detail, home_region, location}`"
        },
        409: {"description": "The account lost its username to a simultaneous sign-up in another region"},
        **problem_responses(401, 429, 503),
    },
)
async def log_in(body: LoginIn, request: Request, logins: LoginsDep) -> SessionOut:
    session = await logins.log_in(
        body.username, body.password, address=client_address(request), query=request.url.query
    )
    return SessionOut(token=session.token, account_id=session.account_id, expires_at=session.expires_at)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, tags=["sessions"], summary="Log out")
async def log_out(
    request: Request, logins: LoginsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    await logins.log_out(authorization, query=request.url.query)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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

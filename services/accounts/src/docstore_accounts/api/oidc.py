"""Sign-in with OpenID Connect, for the gateway only (service identity): which provider, start a
flow, finish it. The gateway keeps the browser's side (the state cookie, the session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from docstore_accounts.api.deps import ServicesDep
from docstore_accounts.domain.oidc import OidcNotConfigured
from docstore_accounts.service_layer.oidc import OidcSignIn
from docstore_kit.auth import ServiceCaller
from docstore_kit.errors import problem_responses
from docstore_kit.text import Text

router = APIRouter(tags=["internal"])


async def _oidc(services: ServicesDep) -> OidcSignIn:
    if services.oidc is None:
        raise OidcNotConfigured()
    return services.oidc


OidcDep = Annotated[OidcSignIn, Depends(_oidc)]


class ProviderOut(BaseModel):
    name: str
    password_sign_in: bool


class StartOut(BaseModel):
    authorization_url: str
    state: str


class FinishIn(BaseModel):
    state: Text = Field(min_length=1, max_length=512)
    code: Text = Field(min_length=1, max_length=4096)


class FinishOut(BaseModel):
    account_id: str
    username: str
    role: str
    how: str


@router.get("/internal/oidc", summary="The configured OpenID provider (404: none)", responses=problem_responses(404))
async def provider(_caller: ServiceCaller, services: ServicesDep, _oidc: OidcDep) -> ProviderOut:
    settings = services.settings
    return ProviderOut(
        name=settings.oidc_provider_name or "your identity provider", password_sign_in=settings.password_sign_in
    )


@router.post(
    "/internal/oidc/start",
    summary="Start a sign-in: the provider's authorization URL and the flow's state",
    responses=problem_responses(404),
)
async def start(_caller: ServiceCaller, oidc: OidcDep) -> StartOut:
    url, state = await oidc.start()
    return StartOut(authorization_url=url, state=state)


@router.post(
    "/internal/oidc/finish",
    summary="Finish a sign-in with the provider's code: the account that signs in",
    responses=problem_responses(400, 403, 404, 409),
)
async def finish(_caller: ServiceCaller, body: FinishIn, oidc: OidcDep) -> FinishOut:
    signed_in = await oidc.finish(body.state, body.code)
    return FinishOut(
        account_id=signed_in.account_id, username=signed_in.username, role=signed_in.role, how=signed_in.how
    )

"""The accounts service's own routes: sign-up, the account, its plan and deletion, the gateway's
credential check (internal), what other services of the region ask of an account (internal), and
replicas of other regions' accounts (replication only).

Refusals are `DomainError`s raised by the use cases; the one handler `service_app` installs
answers them (no try/except here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response, status

from docstore_accounts.api.account_security import CredentialsOut, SecurityDep
from docstore_accounts.api.deps import AccountsDep, SettingsDep, require_replication_secret
from docstore_accounts.api.schemas import (
    AccountIdPath,
    AccountOut,
    CredentialsIn,
    EmailIn,
    InternalAccountOut,
    InternalPlanOut,
    PlanIn,
    PlanOfferOut,
    PlansOut,
    ReplicaIn,
    ReplicaOut,
    SignupIn,
    UsernamePath,
)
from docstore_accounts.domain.oidc import PasswordSignInOff
from docstore_accounts.domain.plans import offers
from docstore_kit.auth import AdminAccountId, CurrentAccountId, ServiceCaller
from docstore_kit.errors import problem_responses

router = APIRouter()


def _account_out(account: Any) -> AccountOut:
    if isinstance(account, dict):
        return AccountOut(
            account_id=account["_id"],
            username=account["username"],
            email=account["email"],
            plan=account["plan"],
            home_region=account["home_region"],
            role=account.get("role", "user"),
            status=account.get("status", "active"),
            email_verified=account.get("email_verified", True) is not False,
        )
    return AccountOut(
        account_id=account.id,
        username=account.username,
        email=account.email,
        plan=account.plan,
        home_region=account.home_region,
        email_verified=False,  # a sign-up's answer: the verification mail is on its way
    )


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    tags=["accounts"],
    summary="Sign up",
    responses=problem_responses(409),
)
async def sign_up(body: SignupIn, accounts: AccountsDep) -> AccountOut:
    account = await accounts.sign_up(username=body.username, email=body.email, password=body.password, plan=body.plan)
    return _account_out(account)


@router.post(
    "/internal/credentials/verify",
    tags=["internal"],
    response_model=CredentialsOut,
    summary="Check a username and password (gateway only)",
)
async def verify_credentials(
    body: CredentialsIn, accounts: AccountsDep, settings: SettingsDep, security: SecurityDep, _caller: ServiceCaller
) -> Any:
    """200 with the account, `mfa_required` and `email_verified`; 401 for wrong credentials; 421
    `{detail, home_region}` when the username's home is another region (log in there); 409
    `{detail, code: "username_conflict", winner_region}` when the account lost its username to a
    simultaneous sign-up elsewhere; 403 when the operator turned password sign-in off."""
    if not settings.password_sign_in:
        raise PasswordSignInOff(settings.oidc_provider_name)
    account = await accounts.authenticate(body.username, body.password)
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    answer = _account_out({**account, "role": settings.role_of(account)}).model_dump()
    return CredentialsOut.model_validate(answer | await security.flags(account))


@router.get("/account", tags=["accounts"], summary="The caller's account")
async def my_account(account_id: CurrentAccountId, accounts: AccountsDep, settings: SettingsDep) -> AccountOut:
    """With the same `role` the login answer carries, so a client learns it without probing an admin route."""
    account = await accounts.account(account_id)
    return _account_out({**account, "role": settings.role_of(account)})


@router.get(
    "/admin/accounts/{account_id}",
    tags=["admin"],
    summary="One account by id: username, home region, plan (admins only; the dashboard names accounts with it)",
    responses=problem_responses(404),
)
async def admin_account(account_id: AccountIdPath, _admin: AdminAccountId, accounts: AccountsDep) -> AccountOut:
    return _account_out(await accounts.account(account_id))


@router.get("/plans", tags=["accounts"], summary="The plans and what each costs a month (shown before a plan change)")
async def plans(_account_id: CurrentAccountId, settings: SettingsDep) -> PlansOut:
    """Prices are the operator's settings (`ACCOUNTS_PREMIUM_MONTHLY_PRICE`, `ACCOUNTS_PLAN_CURRENCY`)."""
    return PlansOut(
        plans=[
            PlanOfferOut(plan=o.plan, name=o.name, monthly_price=str(o.monthly_price), currency=o.currency)  # type: ignore[arg-type]
            for o in offers(settings.premium_monthly_price, settings.plan_currency)
        ]
    )


@router.put("/account/plan", tags=["accounts"], summary="Move the caller's account to another plan")
async def change_plan(body: PlanIn, account_id: CurrentAccountId, accounts: AccountsDep) -> AccountOut:
    return _account_out(await accounts.change_plan(account_id, body.plan))


@router.delete(
    "/account", status_code=status.HTTP_204_NO_CONTENT, tags=["accounts"], summary="Delete the caller's account"
)
async def delete_account(account_id: CurrentAccountId, accounts: AccountsDep) -> Response:
    """Marks the account deleted (`account.deleted`; replicated to the other regions). Its
    username stays reserved."""
    await accounts.delete_account(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/internal/replicas/{account_id}", tags=["internal"], summary="Store another region's account (replication only)"
)
async def put_replica(
    account_id: AccountIdPath,
    body: ReplicaIn,
    accounts: AccountsDep,
    settings: SettingsDep,
    x_replication_secret: Annotated[str | None, Header()] = None,
) -> ReplicaOut:
    """Idempotent: a version not above the one held changes nothing (and answers `applied: false`)."""
    require_replication_secret(x_replication_secret, settings)
    applied = await accounts.receive_replica(account_id, body.model_dump())
    return ReplicaOut(account_id=account_id, applied=applied)


@router.get(
    "/internal/accounts/{account_id}/plan",
    tags=["internal"],
    summary="The account's plan (the indexer and quota ask when their own record, kept from events, "
    "says Free: an upgrade is honoured before its event arrives)",
    responses=problem_responses(404),
)
async def internal_plan(account_id: AccountIdPath, accounts: AccountsDep, _caller: ServiceCaller) -> InternalPlanOut:
    return InternalPlanOut(plan=str((await accounts.account(account_id)).get("plan") or "free"))


def _internal_out(account: dict[str, Any]) -> InternalAccountOut:
    return InternalAccountOut(
        id=account["_id"],
        username=account["username"],
        plan=str(account.get("plan") or "free"),
        home_region=account["home_region"],
        email_verified=account.get("email_verified", True) is not False,
        status=account.get("status", "active"),
    )


@router.get(
    "/internal/accounts/{account_id}",
    tags=["internal"],
    summary="An account of this region: username, plan, home region, verified address, status; no "
    "e-mail (metadata asks when its projection does not know the account yet)",
    responses=problem_responses(404),
)
async def internal_account(
    account_id: AccountIdPath, accounts: AccountsDep, _caller: ServiceCaller
) -> InternalAccountOut:
    return _internal_out(await accounts.account(account_id))


@router.get(
    "/internal/usernames/{username}",
    tags=["internal"],
    summary="The account of this region holding a username (metadata asks when sharing by name and its "
    "projection does not know the name yet)",
    responses=problem_responses(404),
)
async def internal_username(
    username: UsernamePath, accounts: AccountsDep, _caller: ServiceCaller
) -> InternalAccountOut:
    return _internal_out(await accounts.by_username(username))


@router.post(
    "/internal/people/by-email",
    tags=["internal"],
    summary="The active account of this region whose verified address is exactly this one, any case "
    "(metadata's people lookup, issue 37); 404 alike for nobody and an unverified address",
    responses=problem_responses(404),
)
async def internal_by_email(body: EmailIn, security: SecurityDep, _caller: ServiceCaller) -> InternalAccountOut:
    """The address travels in the body, never the path or query (which access logs keep); the
    answer carries no address."""
    return _internal_out(await security.holder_of(body.email))


@router.post(
    "/internal/people/by-email/here",
    tags=["internal"],
    summary="As /internal/people/by-email, for this region's accounts only: another region's accounts "
    "service asks (replication secret)",
    responses=problem_responses(404),
)
async def peer_by_email(
    body: EmailIn,
    security: SecurityDep,
    settings: SettingsDep,
    x_replication_secret: Annotated[str | None, Header()] = None,
) -> InternalAccountOut:
    require_replication_secret(x_replication_secret, settings)
    return _internal_out(await security.holder_of(body.email, forward=False))

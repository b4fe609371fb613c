"""HTTP routes of account security (issue 20): verify the address, reset or change the password,
change the address, two-step sign-in; and the internal routes the gateway and notify call.

Refusals are `DomainError`s from the use cases (one handler answers them). Tokens, passwords and
codes arrive in bodies only, never in a path or query (which access logs keep).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Response, status
from pydantic import BaseModel, ConfigDict, Field

from docstore_accounts.api.deps import ServicesDep, SettingsDep, require_replication_secret
from docstore_accounts.api.schemas import AccountIdPath, AccountOut
from docstore_accounts.service_layer.account_security import AccountSecurity
from docstore_kit.auth import CurrentAccountId, ServiceCaller
from docstore_kit.errors import problem_responses
from docstore_kit.text import Text

router = APIRouter()


async def _security(services: ServicesDep) -> AccountSecurity:
    return services.account_security


SecurityDep = Annotated[AccountSecurity, Depends(_security)]

Token = Annotated[Text, Field(min_length=16, max_length=128, description="The token from the mailed link")]
Password = Annotated[Text, Field(min_length=1, max_length=1024)]
Code = Annotated[Text, Field(min_length=6, max_length=32, description="A 6-digit app code, or a recovery code")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenIn(_In):
    token: Token


class ResetIn(_In):
    username_or_email: Text = Field(min_length=1, max_length=254)


class ResetConfirmIn(_In):
    token: Token
    new_password: Password


class PasswordChangeIn(_In):
    current_password: Password
    new_password: Password


class EmailChangeIn(_In):
    password: Password
    new_email: Text = Field(min_length=3, max_length=254)


class CodeIn(_In):
    code: Code


class MfaOffIn(_In):
    password: Password
    code: Code


class Accepted(BaseModel):
    detail: str


class SecurityOut(BaseModel):
    email: str
    email_verified: bool
    pending_email: str | None = None
    mfa_enabled: bool
    recovery_codes_left: int


class VerifiedOut(BaseModel):
    email: str
    email_verified: bool = True


class ResendOut(BaseModel):
    sent: bool
    detail: str


class EnrolOut(BaseModel):
    secret: str = Field(description="Base32, for typing into an app that cannot scan")
    otpauth_uri: str
    qr_svg: str = Field(description="The URI as an inline SVG QR code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown this once; each works once")


class MfaVerifyOut(BaseModel):
    ok: bool = True
    method: Literal["totp", "recovery"]


class CredentialsOut(AccountOut):
    """The login check's answer: the account, and what the gateway does next."""

    mfa_required: bool = Field(False, description="true: no session yet; the second step (a code) comes first")
    email_verified: bool = True


class EmailOut(BaseModel):
    email: str
    email_verified: bool


RESET_ANSWER = (
    "If an account has this username or address, we sent a link to its address. It works once, for 30 minutes."
)


@router.get("/account/security", tags=["accounts"], summary="The caller's address, its verification and 2FA state")
async def security_state(account_id: CurrentAccountId, security: SecurityDep) -> SecurityOut:
    return SecurityOut(**await security.status(account_id))


@router.post(
    "/account/email/verify",
    tags=["accounts"],
    summary="Verify an address with the mailed link's token (public: the token is the credential)",
    responses=problem_responses(400),
)
async def verify_email(body: TokenIn, security: SecurityDep) -> VerifiedOut:
    account = await security.verify_email(body.token)
    return VerifiedOut(email=account["email"])


@router.post(
    "/account/email/verification",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["accounts"],
    summary="Send the verification mail again (at most 3 an hour)",
    responses=problem_responses(429),
)
async def resend_verification(account_id: CurrentAccountId, security: SecurityDep) -> ResendOut:
    if await security.resend_verification(account_id):
        return ResendOut(sent=True, detail="We sent a new link. Older links no longer work.")
    return ResendOut(sent=False, detail="Your address is already verified.")


@router.post(
    "/account/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["accounts"],
    summary="Ask for a password-reset link (public; the same answer whether or not the account exists)",
)
async def request_reset(body: ResetIn, security: SecurityDep) -> Accepted:
    await security.request_reset(body.username_or_email)
    return Accepted(detail=RESET_ANSWER)


@router.post(
    "/account/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["accounts"],
    summary="Set a new password with a reset link's token (public); every session ends",
    responses=problem_responses(400, 422),
)
async def confirm_reset(body: ResetConfirmIn, security: SecurityDep) -> Response:
    await security.confirm_reset(body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/account/password",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["accounts"],
    summary="Change the password (the current one is required); every session ends",
    responses=problem_responses(403, 422),
)
async def change_password(body: PasswordChangeIn, account_id: CurrentAccountId, security: SecurityDep) -> Response:
    await security.change_password(account_id, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/account/email",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["accounts"],
    summary="Change the address: a link goes to the new one, a notice to the old; applies once confirmed",
    responses=problem_responses(403, 422, 429),
)
async def change_email(body: EmailChangeIn, account_id: CurrentAccountId, security: SecurityDep) -> Accepted:
    await security.change_email(account_id, body.password, body.new_email)
    return Accepted(detail="We sent a link to the new address. The change applies once you follow it.")


@router.post(
    "/account/mfa/enrol",
    tags=["accounts"],
    summary="Start setting up two-step sign-in: a new TOTP secret and its QR code",
    responses=problem_responses(409),
)
async def enrol_mfa(account_id: CurrentAccountId, security: SecurityDep) -> EnrolOut:
    found = await security.enrol_mfa(account_id)
    return EnrolOut(secret=found.secret, otpauth_uri=found.otpauth_uri, qr_svg=found.qr_svg)


@router.post(
    "/account/mfa/confirm",
    tags=["accounts"],
    summary="Turn two-step sign-in on with one code; returns ten recovery codes, shown once",
    responses=problem_responses(401, 409),
)
async def confirm_mfa(body: CodeIn, account_id: CurrentAccountId, security: SecurityDep) -> RecoveryCodesOut:
    return RecoveryCodesOut(recovery_codes=await security.confirm_mfa(account_id, body.code))


@router.delete(
    "/account/mfa",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["accounts"],
    summary="Turn two-step sign-in off (the password and a code are required)",
    responses=problem_responses(401, 403, 409),
)
async def disable_mfa(body: MfaOffIn, account_id: CurrentAccountId, security: SecurityDep) -> Response:
    await security.disable_mfa(account_id, body.password, body.code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/internal/accounts/{account_id}/mfa/verify",
    tags=["internal"],
    summary="The second login step (gateway only): 200 for a good TOTP or recovery code, else 401",
    responses=problem_responses(401, 404, 409),
)
async def verify_second_factor(
    account_id: AccountIdPath, body: CodeIn, security: SecurityDep, _caller: ServiceCaller
) -> MfaVerifyOut:
    method = await security.verify_second_factor(account_id, body.code)
    return MfaVerifyOut(method="totp" if method == "totp" else "recovery")


@router.get(
    "/internal/accounts/{account_id}/email",
    tags=["internal"],
    summary="The account's address (notify, after a verified e-mail change): never sent in an event",
    responses=problem_responses(404),
)
async def account_email(account_id: AccountIdPath, security: SecurityDep, _caller: ServiceCaller) -> EmailOut:
    return EmailOut(**await security.email_of(account_id))


@router.post(
    "/internal/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["internal"],
    summary="Another region's accounts service hands over a reset for a name it does not hold (replication secret)",
)
async def forwarded_reset(
    body: ResetIn,
    security: SecurityDep,
    settings: SettingsDep,
    x_replication_secret: Annotated[str | None, Header()] = None,
) -> Accepted:
    require_replication_secret(x_replication_secret, settings)
    await security.request_reset(body.username_or_email, forward=False)
    return Accepted(detail=RESET_ANSWER)

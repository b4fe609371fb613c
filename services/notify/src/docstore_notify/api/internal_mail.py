"""`POST /internal/mail/{kind}`: metadata's account-security mails (verification, reset, e-mail
change, and the notices that a password or an address changed), sent at once through SES.

Internal: DocStore's services only (a `service` identity token; the gateway routes no
`/internal` path). The link in the body is the credential the mail carries: it goes into the
mail and nowhere else. Nothing is stored (a row would keep the token) and nothing is logged
but the kind and the outcome; a failed send answers 503 and the caller offers a resend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from docstore_kit.auth import ServiceCaller
from docstore_kit.errors import Invalid, Unavailable, problem_responses
from docstore_kit.text import Text
from docstore_notify.api.deps import ServicesDep
from docstore_notify.domain.account_mails import TOKEN_KINDS, AccountMailKind, render_account_mail
from docstore_notify.domain.errors import MailRejected
from docstore_notify.domain.mail import Mail
from docstore_notify.service_layer.notifier import mails_total

log = structlog.get_logger(__name__)
router = APIRouter(tags=["internal"])


class AccountMailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Text = Field(max_length=200)
    to: Text = Field(max_length=254, description="the address to mail (the new one for `change-email`)")
    link: Text = Field(
        "", max_length=2048, description="the single-use link (token kinds only); never stored or logged"
    )
    username: Text = Field("", max_length=64)
    at: datetime | None = Field(None, description="when it happened (notices)")
    client_address: Text = Field("", max_length=64, description="the address the request came from (notices)")
    new_email: Text = Field(
        "", max_length=254, description="the requested address (`email-change-notice`, `email-changed`)"
    )
    report_to: Text = Field(
        "", max_length=254, description="where to report a change that was not yours (`email-changed`)"
    )
    attempt: Literal["", "sign-up", "email-change", "verify-email", "change-email"] = Field(
        "", description="what someone tried with an address in use (`address-in-use`)"
    )


class AccountMailOut(BaseModel):
    message_id: str


class MailRejectedInput(Invalid):
    """A mail that can never be sent as asked (422)."""

    problem = "mail-rejected"


class MailNotSent(Unavailable):
    problem = "mail-not-sent"

    def detail(self) -> str:
        return "The mail could not be sent right now. Try again in a moment."


@router.post(
    "/internal/mail/{kind}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 503),
    summary="Send an account-security mail now (internal: metadata only; the link is never stored)",
)
async def send_account_mail(
    kind: Annotated[AccountMailKind, Path()], body: AccountMailIn, services: ServicesDep, caller: ServiceCaller
) -> AccountMailOut:
    if (kind in TOKEN_KINDS) != bool(body.link):
        raise MailRejectedInput("a link is needed for this kind of mail, and only for it")
    message = render_account_mail(
        kind,
        link=body.link,
        username=body.username,
        at=body.at,
        client_address=body.client_address,
        new_email=body.new_email,
        report_to=body.report_to,
        attempt=body.attempt,
    )
    try:
        message_id = await services.mailer.send(Mail(to=body.to, message=message))
    except MailRejected as error:
        mails_total.labels(kind, "rejected").inc()
        log.warning("account_mail_rejected", kind=kind, account_id=body.account_id, caller=caller)
        raise MailRejectedInput("this address cannot be mailed") from error
    except Exception as error:
        mails_total.labels(kind, "failed").inc()
        log.warning("account_mail_failed", kind=kind, account_id=body.account_id, error=type(error).__name__)
        raise MailNotSent() from error
    mails_total.labels(kind, "sent").inc()
    log.info("account_mail_sent", kind=kind, account_id=body.account_id, message_id=message_id)
    return AccountMailOut(message_id=message_id)

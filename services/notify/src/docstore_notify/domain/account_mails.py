"""The account-security mails metadata asks for through `POST /internal/mail/{kind}`: verify an
address, reset a password, confirm a new address, and the notices that a password or an
address changed. Pure functions.

The token-carrying ones (verification, reset, change confirmation) hold a link that is the
credential: it arrives in the request body, is put in the mail and nowhere else (no row, no
log, no event). The notices hold no link that acts; they say when, and from which address.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from docstore_notify.domain.message import Message, safe_filename
from docstore_notify.domain.templating import render_mail

AccountMailKind = Literal[
    "verify-email",
    "reset-password",
    "change-email",
    "email-change-notice",
    "password-changed",
    "email-changed",
    "address-in-use",
]
TOKEN_KINDS: frozenset[str] = frozenset({"verify-email", "reset-password", "change-email"})
"""Mails carrying a single-use link: always sent, verified address or not (they are how it gets verified)."""


def _when(at: datetime | None) -> str:
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%A %-d %B %Y, %H:%M UTC")


SUBJECTS: dict[str, str] = {
    "verify-email": "Verify your DocStore e-mail address",
    "reset-password": "Reset your DocStore password",
    "change-email": "Confirm your new DocStore e-mail address",
    "password-changed": "Your DocStore password was changed",
    "email-change-notice": "Your DocStore e-mail address is being changed",
    "email-changed": "Your DocStore e-mail address was changed",
    "address-in-use": "Someone tried to use your e-mail address on DocStore",
}
"""Each kind's subject; what it says is in `templates/account/<kind>.txt` and `.html`."""


def render_account_mail(
    kind: str,
    *,
    link: str = "",
    username: str = "",
    at: datetime | None = None,
    client_address: str = "",
    new_email: str = "",
    report_to: str = "",
    attempt: str = "",
) -> Message:
    """The message of an account mail of `kind`; `link` for the token-carrying kinds.
    `email-changed` goes to the old address once the new one is confirmed (the last mail it
    gets); `address-in-use` to the owner of an address someone tried to use for another account."""
    if kind not in SUBJECTS:
        raise ValueError(f"unknown account mail {kind!r}")
    return render_mail(
        f"account/{kind}",
        SUBJECTS[kind],
        link=link,
        who=safe_filename(username) if username else "",
        when=_when(at),
        client_address=client_address,
        new_email=new_email,
        report_to=report_to,
        attempt=attempt,
    )

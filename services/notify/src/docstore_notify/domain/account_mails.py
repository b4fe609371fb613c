"""The account-security mails metadata asks for through `POST /internal/mail/{kind}`: verify an
address, reset a password, confirm a new address, and the notices that a password or an
address changed. Pure functions.

The token-carrying ones (verification, reset, change confirmation) hold a link that is the
credential: it arrives in the request body, is put in the mail and nowhere else (no row, no
log, no event). The notices hold no link that acts; they say when, and from which address.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Literal

from docstore_notify.domain.message import Message, safe_filename
from docstore_notify.domain.message import html_page as _html
from docstore_notify.domain.message import text_body as _text

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


def _link_mail(subject: str, lines: list[str], link: str, action: str, after: list[str]) -> Message:
    text_lines = [*lines, f"{action}: {link}", *after]
    html_lines = [
        *(html.escape(line) for line in lines),
        f'<a href="{html.escape(link, quote=True)}">{html.escape(action)}</a>',
        *(html.escape(line) for line in after),
    ]
    return Message(subject, _text(text_lines), _html(html.escape(subject), ["Hello,", *html_lines]))


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
    """The message of an account mail of `kind`; `link` for the token-carrying kinds."""
    who = safe_filename(username) if username else ""
    if kind == "verify-email":
        return _link_mail(
            "Verify your DocStore e-mail address",
            [f"Welcome to DocStore{', ' + who if who else ''}! Please confirm that this address is yours."],
            link,
            "Verify my address",
            [
                "The link works once, for 48 hours. Until then you can upload and search, "
                "but not share or make public links.",
                "If you did not sign up for DocStore, ignore this mail.",
            ],
        )
    if kind == "reset-password":
        return _link_mail(
            "Reset your DocStore password",
            ["Someone (we hope you) asked to reset the password of your DocStore account."],
            link,
            "Choose a new password",
            [
                "The link works once, for 30 minutes. Setting a new password signs out every device.",
                "If you did not ask for this, ignore this mail: your password stays as it is.",
            ],
        )
    if kind == "change-email":
        return _link_mail(
            "Confirm your new DocStore e-mail address",
            ["You asked to use this address for your DocStore account. Please confirm that it is yours."],
            link,
            "Confirm this address",
            ["The link works once, for 48 hours. Until then mail keeps going to the old address."],
        )
    where = f" from the address {client_address}" if client_address else ""
    if kind == "password-changed":
        lines = [
            f"The password of your DocStore account was changed on {_when(at)}{where}.",
            "Every device that was signed in has been signed out.",
            "If this was not you, reset your password at once and check your account's devices.",
        ]
        subject = "Your DocStore password was changed"
        return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *map(html.escape, lines)]))
    if kind == "email-change-notice":
        shown = f" to {new_email}" if new_email else ""
        lines = [
            f"On {_when(at)}{where}, someone signed in to your DocStore account asked to change its "
            f"e-mail address{shown}.",
            "The change happens only once the new address is confirmed; until then mail keeps coming here.",
            "If this was not you, change your password and check your account's devices.",
        ]
        subject = "Your DocStore e-mail address is being changed"
        return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *map(html.escape, lines)]))
    if kind == "email-changed":
        # To the old address, once the new one is confirmed: the last mail this address gets.
        report = (
            f"If this was not you, write at once to {report_to} (say which account and when) and we will "
            "lock the account and help you take it back."
            if report_to
            else "If this was not you, contact DocStore support at once."
        )
        lines = [
            f"On {_when(at)}{where}, the e-mail address of your DocStore account was changed "
            f"to {new_email or 'another address'}.",
            "Mail about the account, password-reset links included, now goes to the new address; "
            "every reset or verification link sent here before no longer works.",
            report,
        ]
        subject = "Your DocStore e-mail address was changed"
        return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *map(html.escape, lines)]))
    if kind == "address-in-use":
        # To the owner of an address someone tried to use for another account: only they read it.
        what = "change another account's e-mail address to" if attempt == "email-change" else "sign up with"
        lines = [
            f"On {_when(at)}{where}, someone tried to {what} this address on DocStore.",
            f"This address already belongs to your DocStore account{', ' + who if who else ''}, and an "
            "address belongs to one account only, so nothing was changed and nobody was told whose it is.",
            "If it was you: sign in to your account, or reset its password from the sign-in page. "
            "If it was not you, you need do nothing.",
        ]
        subject = "Someone tried to use your e-mail address on DocStore"
        return Message(subject, _text(lines), _html(html.escape(subject), ["Hello,", *map(html.escape, lines)]))
    raise ValueError(f"unknown account mail {kind!r}")

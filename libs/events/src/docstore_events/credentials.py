"""Events about an account's credentials: its e-mail address being verified, its password
changed, two-factor sign-in turned on or off, and every session ended.

All are emitted by `metadata` (which owns credentials) through its outbox, in the unit of
work that made the change, in the account's home region. None carries a password, a hash, a
verification or reset token, a TOTP secret or code, a recovery code or an e-mail address:
the mails that need a token or an address are sent by metadata through notify's internal
route after the commit (`POST /internal/mail/{kind}`), never through Kafka.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from docstore_events.base import Event

PasswordChangeVia = Literal["change", "reset"]
MfaMethod = Literal["totp"]
SessionsRevokedReason = Literal["password-changed", "password-reset", "mfa-enabled"]


class AccountEmailVerified(Event):
    """Emitted by `metadata` when the owner followed a verification link: the account's address
    (the one given at sign-up, or a new one after `PUT /account/email`) is verified.

    `notify` lifts the rule that an unverified account gets no mail but the verification and
    reset mails; `changed` says the address itself changed (notify then asks metadata for the
    new one, `GET /internal/accounts/{id}/email`: an address is never in this event)."""

    type = "account.email-verified"

    changed: bool = False
    """True when this verification applied a new address (an e-mail change), False at sign-up."""


class AccountPasswordChanged(Event):
    """Emitted by `metadata` when the account's password was set: by its owner with the current
    one (`via` "change") or through a reset link (`via` "reset"). Never the password or its hash."""

    type = "account.password-changed"

    via: PasswordChangeVia = "change"
    """"change": the owner gave the current password; "reset": a mailed reset link."""


class AccountMfaChanged(Event):
    """Emitted by `metadata` when two-factor sign-in was turned on (after one valid code) or off
    (with the password and a code). Never the secret, a code or a recovery code."""

    type = "account.mfa-changed"

    enabled: bool
    """True: turned on (the next logins ask for a code); False: turned off."""
    method: MfaMethod = "totp"
    """The second factor: an authenticator app's time-based codes (RFC 6238)."""


class AccountSessionsRevoked(Event):
    """Emitted by `metadata` when every session of the account must end: its password was
    changed or reset, or two-factor sign-in was turned on.

    The `gateway` revokes every refresh-token family of the account and refuses access tokens
    issued before `revoked_before` from then on ("signed out: sign in again")."""

    type = "account.sessions-revoked"

    revoked_before: datetime
    """Access tokens issued before this instant (UTC) are no longer accepted."""
    reason: SessionsRevokedReason = "password-changed"
    """Why every session ends: the password was changed or reset, or two-step sign-in turned on."""


AppPasswordScope = Literal["webdav-sync", "read-only"]
AppPasswordRevokedReason = Literal["revoked", "account-deleted"]


class AccountAppPasswordCreated(Event):
    """Emitted by `metadata` when the owner created an app password: a password for one tool
    (a WebDAV client, rclone, a script) that works with the username over HTTP Basic, also for
    an account with two-step sign-in, within its `scope`. Never the password or its digest."""

    type = "account.app-password-created"

    app_id: str
    """The app password's id (`apw_…`), as the owner's list shows it: never the password."""
    name: str
    """The owner's name for it ("rclone on the NAS")."""
    scope: AppPasswordScope
    """"webdav-sync": the files, read and write; "read-only": GET requests only."""


class AccountAppPasswordRevoked(Event):
    """Emitted by `metadata` when an app password stopped working: its owner revoked it, or the
    account was deleted (one event per app password it had).

    The `gateway` stops trusting what it cached of the account's app passwords (each is checked
    again with metadata on its next use, and the revoked one is refused)."""

    type = "account.app-password-revoked"

    app_id: str
    """The app password's id (`apw_…`)."""
    reason: AppPasswordRevokedReason = "revoked"

"""Events about what people and administrators do that changes no document: logging in and
out, handing out a download URL, unsharing, changing mail preferences, and admin actions.

They exist so the audit trail (built from events) records every action; each is emitted
through its service's outbox in the same unit of work as the action. None carries a
password, a token, a signed URL or any other secret.
"""

from __future__ import annotations

from typing import Literal

from docstore_events.base import Event

LoginFailure = Literal["wrong-password", "account-inactive"]
SessionEndReason = Literal["logout", "logout-everywhere", "refresh-reuse", "session-revoked", "other-sessions-revoked"]


class AccountLoggedIn(Event):
    """Emitted by `metadata` when a username and password it checks for the gateway
    (`/internal/credentials/verify`) belong to an active account of this region."""

    type = "account.logged-in"

    username: str


class AccountLoginFailed(Event):
    """Emitted by `metadata` when a login names a known account of this region but fails:
    `reason` "wrong-password", or "account-inactive" (right password, deleted account).

    A username nobody holds here records nothing: there is no account to record it on."""

    type = "account.login-failed"

    username: str
    reason: LoginFailure = "wrong-password"


class SessionEnded(Event):
    """Emitted by `gateway` when sessions end before they expire: a logout (`reason` "logout":
    that login's access and refresh tokens), a logout everywhere ("logout-everywhere": every
    session of the account), or a refresh token presented again after it was spent
    ("refresh-reuse": two holders, so that login is revoked), or the owner ending one session
    from the list of devices ("session-revoked") or every other one ("other-sessions-revoked")."""

    type = "session.ended"

    reason: SessionEndReason = "logout"


class ShareRevoked(Event):
    """Emitted by `metadata` when an owner stops sharing a document with another account
    (`DELETE /documents/{id}/shares/{grantee}`). `account_id` is the owner; `permission` is
    the one the share had."""

    type = "share.revoked"

    document_id: str
    grantee_id: str
    permission: str


class FileDownloadUrlIssued(Event):
    """Emitted by `metadata` when it hands out a short-lived signed download URL
    (`GET /documents/{id}/download`). `account_id` is who asked (the owner, or an account the
    document is shared with); `owner_id` the document's owner. The URL itself is not kept."""

    type = "file.download-url-issued"

    document_id: str
    owner_id: str
    version: int
    name: str


class NotificationPreferencesChanged(Event):
    """Emitted by `notify` when a person changes how they get mail
    (`PUT /notifications/preferences`, or an unsubscribe link): `changes` maps each kind that
    changed to its new mode (`instant`, `digest`, `off`). Never the address."""

    type = "notification.preferences-changed"

    changes: dict[str, str]
    via: Literal["settings", "unsubscribe-link"] = "settings"


class DeadLetterReplayed(Event):
    """Emitted by `quota` when an administrator replays a dead letter to its original topic
    (`POST /admin/dlq/{topic}/{partition}/{offset}/replay`). `account_id` is the administrator."""

    type = "admin.dead-letter-replayed"

    dead_letter_topic: str
    partition: int
    offset: int
    original_topic: str
    event_id: str | None = None
    """The replayed event's id (its `ce_id`), when it had one."""


class ReconciliationRan(Event):
    """Emitted by `quota` when an administrator runs the ledger-against-S3 reconciliation
    (`POST /admin/reconciliation`). `account_id` is the administrator; the figures are the
    report's."""

    type = "admin.reconciliation-run"

    report_id: str
    accounts_checked: int
    drifting_accounts: int
    total_drift_bytes: int


class AnalyticsExported(Event):
    """Emitted by `analytics` when an administrator exports a table of the admin dashboard as
    CSV (`GET /admin/analytics/export/{table}`). `account_id` is the administrator; the export
    holds counts by day, or document ids and owners with their counts, never content."""

    type = "admin.analytics-exported"

    table: str
    rows: int
    first_day: str | None = None
    last_day: str | None = None

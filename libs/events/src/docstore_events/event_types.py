"""The explicit catalogue of DocStore's event types: every event class, listed by hand.

Consumers that must see every event (the audit trail) subscribe to `CATALOGUE`, never to what
`base.EVENT_TYPES` holds at the moment they start: that registry fills as modules are imported,
so an event module nobody in the process imported (the gateway's `account.new-sign-in` in
metadata's process, issue 33) was silently left out. A new event class must be added here;
`libs/events/tests/unit/test_event_types.py` walks the package and fails until it is.
"""

from __future__ import annotations

from docstore_events.accounts import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
)
from docstore_events.activity import (
    AccountLoggedIn,
    AccountLoginFailed,
    AnalyticsExported,
    DeadLetterReplayed,
    FileDownloadUrlIssued,
    NotificationPreferencesChanged,
    ReconciliationRan,
    SessionEnded,
    ShareRevoked,
)
from docstore_events.base import Event
from docstore_events.credentials import (
    AccountAppPasswordCreated,
    AccountAppPasswordRevoked,
    AccountEmailVerified,
    AccountMfaChanged,
    AccountPasswordChanged,
    AccountSessionsRevoked,
)
from docstore_events.devices import NewDeviceSignInDetected
from docstore_events.files import (
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
)
from docstore_events.folders import FolderCreated, FolderMoved, FolderRestored, FolderTrashed
from docstore_events.identities import AccountIdentityUnlinked
from docstore_events.indexing import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed
from docstore_events.notifications import FileFollowed, FileUnfollowed, QuotaWarningReached
from docstore_events.previews import DocumentPreviewFailed, DocumentPreviewRendered, DocumentPreviewsRecorded
from docstore_events.quota import QuotaExceeded, QuotaRestored
from docstore_events.shares import (
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
)
from docstore_events.uploads import (
    UploadCompleted,
    UploadCredentialsExpired,
    UploadCredentialsIssued,
    UploadExpired,
    UploadInitiated,
    UploadsInitiated,
)
from docstore_events.webhooks import WebhookDisabled

CATALOGUE: tuple[type[Event], ...] = (
    # accounts
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    AccountReplicated,
    AccountUsernameConflicted,
    # credentials and devices
    AccountAppPasswordCreated,
    AccountAppPasswordRevoked,
    AccountEmailVerified,
    AccountMfaChanged,
    AccountPasswordChanged,
    AccountSessionsRevoked,
    AccountIdentityUnlinked,
    NewDeviceSignInDetected,
    # activity (logins, sessions, unsharing, downloads, preferences, admin actions)
    AccountLoggedIn,
    AccountLoginFailed,
    AnalyticsExported,
    DeadLetterReplayed,
    FileDownloadUrlIssued,
    NotificationPreferencesChanged,
    ReconciliationRan,
    SessionEnded,
    ShareRevoked,
    # files and shares
    FileDeleted,
    FileDetailsChanged,
    FileModified,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
    FileFollowed,
    FileUnfollowed,
    # folders
    FolderCreated,
    FolderMoved,
    FolderRestored,
    FolderTrashed,
    # public links
    ShareLinkCreated,
    ShareLinkExpired,
    ShareLinkExpiryNeared,
    ShareLinkExtended,
    ShareLinkRevoked,
    ShareLinkUsed,
    # indexing and previews
    DocumentIndexed,
    DocumentIndexFailed,
    DocumentsIndexed,
    DocumentPreviewFailed,
    DocumentPreviewRendered,
    DocumentPreviewsRecorded,
    # quota
    QuotaExceeded,
    QuotaRestored,
    QuotaWarningReached,
    # uploads
    UploadCompleted,
    UploadCredentialsExpired,
    UploadCredentialsIssued,
    UploadExpired,
    UploadInitiated,
    UploadsInitiated,
    # webhooks
    WebhookDisabled,
)
"""Every DocStore event class, each once."""


def catalogue_types() -> frozenset[str]:
    """The `type` strings of the catalogue ("upload.completed", ...)."""
    return frozenset(cls.type for cls in CATALOGUE)

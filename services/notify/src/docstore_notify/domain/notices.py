"""What an event asks notify to tell someone, and how each person wants to be told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from docstore_events import FileModified, QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.notifications import QuotaWarningReached
from docstore_notify.domain.message import (
    DIGEST as DIGEST_KIND,
)
from docstore_notify.domain.message import (
    FILE_MODIFIED,
    QUOTA_EXCEEDED,
    QUOTA_RESTORED,
    QUOTA_WARNING,
    UPLOAD_EXPIRED,
)

Mode = Literal["instant", "digest", "off"]
"""Per person and kind of notice: a mail at once, an item of the periodic digest, or nothing."""
INSTANT: Mode = "instant"
DIGEST: Mode = "digest"
OFF: Mode = "off"
DEFAULT_MODE: Mode = INSTANT


@dataclass(frozen=True)
class Notice:
    """What an event asks us to tell its account: a kind and the facts the mail needs."""

    account_id: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    coalesce: str | None = None
    """Notices of the same kind, recipient and `coalesce` value within the coalescing window
    become one mail (ten quick versions of a file: one mail)."""

    @classmethod
    def quota_exceeded(cls, event: QuotaExceeded) -> Notice:
        return cls(
            event.account_id,
            QUOTA_EXCEEDED,
            {"used_bytes": event.used_bytes, "cap_bytes": event.cap_bytes, "plan": event.plan},
        )

    @classmethod
    def quota_restored(cls, event: QuotaRestored) -> Notice:
        return cls(event.account_id, QUOTA_RESTORED, {"used_bytes": event.used_bytes, "cap_bytes": event.cap_bytes})

    @classmethod
    def upload_expired(cls, event: UploadExpired) -> Notice:
        return cls(event.account_id, UPLOAD_EXPIRED, {"filename": event.filename})

    @classmethod
    def quota_warning(cls, event: QuotaWarningReached) -> Notice:
        return cls(
            event.account_id,
            QUOTA_WARNING,
            {
                "percent": event.percent,
                "used_bytes": event.used_bytes,
                "cap_bytes": event.cap_bytes,
                "plan": event.plan,
            },
        )

    @classmethod
    def file_modified(cls, event: FileModified, follower_id: str, *, by: str | None = None) -> Notice:
        """For one follower of the document (never its `actor_id`); `by` is the actor's username
        (None when notify does not know it: the mail then says "someone")."""
        return cls(
            follower_id,
            FILE_MODIFIED,
            {
                "name": event.name,
                "version": event.version,
                "changes": 1,
                "document_id": event.document_id,
                "by": by or "",
            },
            coalesce=event.document_id,
        )

    def coalesce_key(self) -> str | None:
        """The key that folds this notice into one held for the same recipient, kind and subject."""
        return f"{self.account_id}:{self.kind}:{self.coalesce}" if self.coalesce else None

    def facts(self) -> dict[str, Any]:
        """What a later notice updates in a held one (the count of changes is added, not set)."""
        return {k: v for k, v in self.params.items() if k != "changes"}


def unsubscribe_changes(kind: str, current: dict[str, str]) -> dict[str, str]:
    """The preference changes an unsubscribe link for `kind` makes: that kind `off`; a digest's
    link turns off every kind the person gets in the digest."""
    if kind == DIGEST_KIND:
        return {k: OFF for k, mode in current.items() if mode == DIGEST}
    return {kind: OFF}

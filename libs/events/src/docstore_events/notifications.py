"""Events added for quota warnings and following files.

`QuotaWarningReached` is emitted by `quota`; `FileFollowed` / `FileUnfollowed` by
`metadata`, which owns subscriptions. `notify` consumes all three.
"""

from __future__ import annotations

from docstore_events.base import Event


class QuotaWarningReached(Event):
    """Emitted by `quota` when an account's usage goes up past `percent` (80 or 95) of its cap.

    Once per upward crossing; re-armed when usage drops back below. `notify` mails the owner.
    """

    type = "quota.warning-reached"

    percent: int
    used_bytes: int
    cap_bytes: int
    plan: str


class FileFollowed(Event):
    """Emitted by `metadata` when an account starts following a document (its own or one shared with it).

    `account_id` is the follower (the Kafka key), `owner_id` the document's owner.
    `notify` mails the follower when someone else changes the document.
    """

    type = "file.followed"

    document_id: str
    owner_id: str


class FileUnfollowed(Event):
    """Emitted by `metadata` when an account stops following a document, or loses access to it
    (share revoked, document purged). `account_id` is the (former) follower."""

    type = "file.unfollowed"

    document_id: str
    owner_id: str

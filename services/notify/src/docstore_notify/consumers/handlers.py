"""Event subscribers: each event class and the one use case it calls (see `service_layer.notifier`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from docstore_events import AccountCreated, Envelope, FileModified, QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.base import Event
from docstore_events.credentials import AccountEmailVerified
from docstore_events.devices import NewDeviceSignInDetected
from docstore_events.files import (
    FileDeleted,
    FileDetailsChanged,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
    ShareCreated,
)
from docstore_events.notifications import FileFollowed, FileUnfollowed, QuotaWarningReached
from docstore_events.shares import ShareLinkExpiryNeared, ShareLinkRevoked, ShareLinkUsed
from docstore_messaging.runtime import EventRuntime
from docstore_notify.domain.link_mails import exhausted_notice, expiry_notice, revoked_notice
from docstore_notify.domain.notices import Notice
from docstore_notify.domain.share_mails import share_received_notice
from docstore_notify.domain.sign_in_mails import new_sign_in_notice
from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.webhooks import Webhooks

Handler = Callable[[Envelope[Any]], Awaitable[bool]]


def handlers(notifier: Notifier, webhooks: Webhooks | None = None) -> dict[type[Event], Handler]:
    """Event class -> use case, each called with the event id (the idempotency key) and the event.
    The events on documents also go to the owner's webhooks (`fan_out`, idempotent by its
    delivery ids: an event that mails and calls webhooks is applied once on each channel)."""
    n, w = notifier, webhooks

    async def hook(e: Envelope[Any]) -> bool:
        if w is None:  # the mail channel's own tests
            return False
        return await w.fan_out(e.id, e.data.type, e.data.model_dump(mode="json"), e.time)

    async def both(first: Awaitable[bool], e: Envelope[Any]) -> bool:
        mailed = await first
        hooked = await hook(e)
        return mailed or hooked

    return {
        FileVersionRecorded: hook,
        FileDetailsChanged: hook,
        FileTrashed: hook,
        FileRestored: hook,
        FileDeleted: hook,
        ShareCreated: lambda e: both(n.notify(e.id, share_received_notice(e.data)), e),
        AccountCreated: lambda e: n.remember_recipient(e.id, e.data),
        AccountEmailVerified: lambda e: n.verify_recipient(e.id, e.data),
        QuotaWarningReached: lambda e: n.notify(e.id, Notice.quota_warning(e.data)),
        QuotaExceeded: lambda e: n.notify(e.id, Notice.quota_exceeded(e.data)),
        QuotaRestored: lambda e: n.notify(e.id, Notice.quota_restored(e.data)),
        UploadExpired: lambda e: n.notify(e.id, Notice.upload_expired(e.data)),
        FileModified: lambda e: both(n.notify_followers(e.id, e.data), e),
        FileFollowed: lambda e: n.set_following(
            e.id, document_id=e.data.document_id, follower_id=e.data.account_id, following=True, at=e.time
        ),
        FileUnfollowed: lambda e: n.set_following(
            e.id, document_id=e.data.document_id, follower_id=e.data.account_id, following=False, at=e.time
        ),
        ShareLinkExpiryNeared: lambda e: n.notify(e.id, expiry_notice(e.data)),
        NewDeviceSignInDetected: lambda e: n.notify(e.id, new_sign_in_notice(e.data)),
        ShareLinkUsed: lambda e: both(_link_used(n, e), e),
        ShareLinkRevoked: lambda e: _link_revoked(n, e),
    }


async def _link_used(notifier: Notifier, envelope: Envelope[ShareLinkUsed]) -> bool:
    """Only the use that exhausts a link mails the owner; every other use is nothing to notify."""
    notice = exhausted_notice(envelope.data)
    return await notifier.notify(envelope.id, notice) if notice is not None else False


async def _link_revoked(notifier: Notifier, envelope: Envelope[ShareLinkRevoked]) -> bool:
    """Only a link that ended with the right it was made with mails the owner (`revoked_notice`)."""
    notice = revoked_notice(envelope.data)
    return await notifier.notify(envelope.id, notice) if notice is not None else False


def register(events: EventRuntime, notifier: Notifier, webhooks: Webhooks) -> None:
    for event_class, handler in handlers(notifier, webhooks).items():
        events.subscribe(event_class, handler)

"""Event subscribers: the table event class -> use case, and the one batch subscription that applies it.

Every event comes through one batch subscription (`EventRuntime.subscribe_batch`: a service
consumes either in batches or one at a time), in each partition's order:

- the events that mail (or keep state for mails) go one by one, in order, to their use case in
  `handlers` (`service_layer.notifier`), each applied once by its own `uow.run_once`;
- the events on documents that webhooks may ask for (`WEBHOOK_EVENTS`, most of the traffic:
  `file.version-recorded` is one per upload) go to the owner's webhooks together, after the
  batch's mails: one `Webhooks.fan_out_many` per batch, one read for all of them (issue 35),
  idempotent by its upserted delivery ids. `file.modified`, `share.created` and
  `share.link-used` both mail and fan out: each channel applies them once.

Ack policy: the batch consumer's (`docstore_messaging.batches`): offsets are committed after the
batch was applied, so at least once; a batch that fails is tried again in halves, down to the one
event that fails, which goes to `<topic>.dlq` after the retries (an outage is waited out). What
was applied before a failure is skipped on the next try (processed-event records, delivery ids).
"""

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
from docstore_notify.domain.webhooks import DocumentEvent
from docstore_notify.service_layer.notifier import Notifier
from docstore_notify.service_layer.webhooks import Webhooks

Handler = Callable[[Envelope[Any]], Awaitable[bool]]


WEBHOOK_EVENTS: tuple[type[Event], ...] = (
    FileVersionRecorded,
    FileDetailsChanged,
    FileTrashed,
    FileRestored,
    FileDeleted,
    FileModified,
    ShareCreated,
    ShareLinkUsed,
)
"""The events on an account's documents that go to its webhooks (`domain.webhooks.EVENT_TYPES`)."""


def handlers(notifier: Notifier) -> dict[type[Event], Handler]:
    """Event class -> mail use case, each called with the event id (the idempotency key) and the
    event. The events of `WEBHOOK_EVENTS` not here have no other effect than the webhooks."""
    n = notifier
    return {
        ShareCreated: lambda e: n.notify(e.id, share_received_notice(e.data)),
        AccountCreated: lambda e: n.remember_recipient(e.id, e.data),
        AccountEmailVerified: lambda e: n.verify_recipient(e.id, e.data),
        QuotaWarningReached: lambda e: n.notify(e.id, Notice.quota_warning(e.data)),
        QuotaExceeded: lambda e: n.notify(e.id, Notice.quota_exceeded(e.data)),
        QuotaRestored: lambda e: n.notify(e.id, Notice.quota_restored(e.data)),
        UploadExpired: lambda e: n.notify(e.id, Notice.upload_expired(e.data)),
        FileModified: lambda e: n.notify_followers(e.id, e.data),
        FileFollowed: lambda e: n.set_following(
            e.id, document_id=e.data.document_id, follower_id=e.data.account_id, following=True, at=e.time
        ),
        FileUnfollowed: lambda e: n.set_following(
            e.id, document_id=e.data.document_id, follower_id=e.data.account_id, following=False, at=e.time
        ),
        ShareLinkExpiryNeared: lambda e: n.notify(e.id, expiry_notice(e.data)),
        NewDeviceSignInDetected: lambda e: n.notify(e.id, new_sign_in_notice(e.data)),
        ShareLinkUsed: lambda e: _link_used(n, e),
        ShareLinkRevoked: lambda e: _link_revoked(n, e),
    }


def document_event(envelope: Envelope[Any]) -> DocumentEvent:
    """What the webhook fan-out reads of an event on a document."""
    return DocumentEvent(envelope.id, envelope.data.type, envelope.data.model_dump(mode="json"), envelope.time)


async def _link_used(notifier: Notifier, envelope: Envelope[ShareLinkUsed]) -> bool:
    """Only the use that exhausts a link mails the owner; every other use is nothing to notify."""
    notice = exhausted_notice(envelope.data)
    return await notifier.notify(envelope.id, notice) if notice is not None else False


async def _link_revoked(notifier: Notifier, envelope: Envelope[ShareLinkRevoked]) -> bool:
    """Only a link that ended with the right it was made with mails the owner (`revoked_notice`)."""
    notice = revoked_notice(envelope.data)
    return await notifier.notify(envelope.id, notice) if notice is not None else False


def register(events: EventRuntime, notifier: Notifier, webhooks: Webhooks) -> None:
    """Subscribe notify to every event it consumes, in one batch subscription (before `start`)."""
    one_by_one = handlers(notifier)
    hooked = frozenset(WEBHOOK_EVENTS)

    async def batch(envelopes: list[Envelope[Any]]) -> None:
        for envelope in envelopes:
            handle = one_by_one.get(type(envelope.data))
            if handle is not None:
                await handle(envelope)
        documents = [document_event(e) for e in envelopes if type(e.data) in hooked]
        if documents:
            await webhooks.fan_out_many(documents)

    events.subscribe_batch(batch, *dict.fromkeys([*one_by_one, *WEBHOOK_EVENTS]))

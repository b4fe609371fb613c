"""Event subscribers: decode, record exactly once, then (after the commit) send what was recorded."""

from __future__ import annotations

from docstore_events import AccountCreated, Envelope, QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.runtime import EventRuntime

from docstore_notify.domain.notifier import Notice, Notifier


def register(events: EventRuntime, notifier: Notifier) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        if await events.apply_once(envelope, lambda s: notifier.remember_recipient(event.account_id, event.email, s)):
            await notifier.send_released(event.account_id)  # mails that arrived before the address

    async def notify(envelope: Envelope, notice: Notice) -> None:
        if await events.apply_once(envelope, lambda s: notifier.record(envelope.id, notice, s)):
            await notifier.send_new(envelope.id)

    async def quota_exceeded(envelope: Envelope[QuotaExceeded]) -> None:
        await notify(envelope, Notice.quota_exceeded(envelope.data))

    async def quota_restored(envelope: Envelope[QuotaRestored]) -> None:
        await notify(envelope, Notice.quota_restored(envelope.data))

    async def upload_expired(envelope: Envelope[UploadExpired]) -> None:
        await notify(envelope, Notice.upload_expired(envelope.data))

    events.subscribe(AccountCreated, account_created)
    events.subscribe(QuotaExceeded, quota_exceeded)
    events.subscribe(QuotaRestored, quota_restored)
    events.subscribe(UploadExpired, upload_expired)

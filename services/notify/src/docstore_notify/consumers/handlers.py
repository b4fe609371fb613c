"""Event subscribers: decode, record exactly once, then (after the commit) send what was recorded."""

from __future__ import annotations

from docstore_events import AccountCreated, Envelope, FileModified, QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.notifications import FileFollowed, FileUnfollowed, QuotaWarningReached
from docstore_events.runtime import EventRuntime

from docstore_notify.domain.notifier import Notice, Notifier


def register(events: EventRuntime, notifier: Notifier) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        if await events.apply_once(envelope, lambda s: notifier.remember_recipient(event.account_id, event.email, s)):
            await notifier.send_released(event.account_id)  # mails that arrived before the address

    async def notify(envelope: Envelope, notice: Notice) -> None:
        send_now: list[bool] = []

        async def effect(session) -> None:
            send_now[:] = [await notifier.record(envelope.id, notice, session)]

        if await events.apply_once(envelope, effect) and send_now[0]:
            await notifier.send_new(envelope.id)

    async def quota_warning(envelope: Envelope[QuotaWarningReached]) -> None:
        await notify(envelope, Notice.quota_warning(envelope.data))

    async def quota_exceeded(envelope: Envelope[QuotaExceeded]) -> None:
        await notify(envelope, Notice.quota_exceeded(envelope.data))

    async def quota_restored(envelope: Envelope[QuotaRestored]) -> None:
        await notify(envelope, Notice.quota_restored(envelope.data))

    async def upload_expired(envelope: Envelope[UploadExpired]) -> None:
        await notify(envelope, Notice.upload_expired(envelope.data))

    async def file_modified(envelope: Envelope[FileModified]) -> None:
        to_send: list[str] = []

        async def effect(session) -> None:
            to_send[:] = await notifier.record_for_followers(envelope.id, envelope.data, session)

        if await events.apply_once(envelope, effect):
            for notification_id in to_send:
                await notifier.send_new(notification_id)

    async def followed(envelope: Envelope[FileFollowed]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: notifier.follows.set(event.document_id, event.account_id, True, envelope.time, s)
        )

    async def unfollowed(envelope: Envelope[FileUnfollowed]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: notifier.follows.set(event.document_id, event.account_id, False, envelope.time, s)
        )

    events.subscribe(AccountCreated, account_created)
    events.subscribe(QuotaWarningReached, quota_warning)
    events.subscribe(QuotaExceeded, quota_exceeded)
    events.subscribe(QuotaRestored, quota_restored)
    events.subscribe(UploadExpired, upload_expired)
    events.subscribe(FileModified, file_modified)
    events.subscribe(FileFollowed, followed)
    events.subscribe(FileUnfollowed, unfollowed)

"""Turning events into mails, each exactly once per event id (up to one narrow window).

1. `record` (inside the consumer's `apply_once` transaction) remembers that the event
   calls for a mail: a `pending` row keyed by the event id. A redelivered event finds
   its processed-event record and records nothing.
2. `send_new` (after the commit) claims the row, sends it through SES and marks it
   `sent` with SES's message id.
3. `sweep` (a background task) sends rows that stayed `pending` past their lease: the
   process died between commit and send, or SES failed.

Topics are not ordered against each other, so a quota mail can arrive before the
account's `account.created`. Its row is then recorded `waiting`, and
`remember_recipient` releases it (to `pending`, in the same transaction that stores the
address); `send_released` sends it after that commit. Waiting instead of failing and
retrying matters: the service reads all its topics with one Kafka consumer, so an
in-place retry of the quota event would hold back the very `account.created` it waits for.

The one duplicate left: a crash after SES accepted a mail but before the row was
marked `sent`, or a response lost on the way back, sends that mail again when the
sweeper retries (SES has no idempotency key). The window is one SES round trip plus
one MongoDB update.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import structlog
from docstore_events import FileModified, QuotaExceeded, QuotaRestored, UploadExpired
from docstore_events.notifications import QuotaWarningReached
from docstore_events.faults import crashpoint
from pymongo.asynchronous.client_session import AsyncClientSession
from prometheus_client import Counter

from docstore_notify.adapters.follows import FollowRepository
from docstore_notify.adapters.notification_log import NotificationLog
from docstore_notify.adapters.preferences import DIGEST as DIGEST_MODE
from docstore_notify.adapters.preferences import OFF, PreferenceRepository
from docstore_notify.adapters.recipients import RecipientRepository
from docstore_notify.adapters.ses import MailRejected
from docstore_notify.adapters.unsubscribe import UnsubscribeLinks
from docstore_notify.domain.mail import (
    DIGEST,
    FILE_MODIFIED,
    QUOTA_EXCEEDED,
    QUOTA_RESTORED,
    QUOTA_WARNING,
    UPLOAD_EXPIRED,
    Mail,
    describe,
    render,
    with_unsubscribe,
)

log = structlog.get_logger(__name__)

mails_total = Counter("docstore_notify_mails_total", "Mail send attempts, by kind and outcome", ["kind", "outcome"])


class Mailer(Protocol):
    async def send(self, mail: Mail) -> str: ...


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
        return cls(event.account_id, QUOTA_EXCEEDED, {"used_bytes": event.used_bytes, "cap_bytes": event.cap_bytes})

    @classmethod
    def quota_restored(cls, event: QuotaRestored) -> Notice:
        return cls(event.account_id, QUOTA_RESTORED, {"used_bytes": event.used_bytes, "cap_bytes": event.cap_bytes})

    @classmethod
    def upload_expired(cls, event: UploadExpired) -> Notice:
        return cls(event.account_id, UPLOAD_EXPIRED, {"filename": event.filename})

    @classmethod
    def quota_warning(cls, event: QuotaWarningReached) -> Notice:
        return cls(event.account_id, QUOTA_WARNING,
                   {"percent": event.percent, "used_bytes": event.used_bytes, "cap_bytes": event.cap_bytes})

    @classmethod
    def file_modified(cls, event: FileModified, follower_id: str) -> Notice:
        """For one follower of the document (never its `actor_id`)."""
        return cls(follower_id, FILE_MODIFIED, {"name": event.name, "version": event.version, "changes": 1},
                   coalesce=event.document_id)


class Notifier:
    def __init__(
        self,
        recipients: RecipientRepository,
        notifications: NotificationLog,
        mailer: Mailer,
        *,
        resend_after: timedelta,
        max_attempts: int,
        preferences: PreferenceRepository,
        follows: FollowRepository,
        unsubscribe: UnsubscribeLinks,
        transaction: Callable[[Callable[[AsyncClientSession], Awaitable[Any]]], Awaitable[Any]],
        coalesce_window: timedelta = timedelta(seconds=60),
    ) -> None:
        self.recipients = recipients
        self.notifications = notifications
        self.mailer = mailer
        self.resend_after = resend_after
        self.max_attempts = max_attempts
        self.preferences = preferences
        self.follows = follows
        self.unsubscribe = unsubscribe
        self.transaction = transaction
        self.coalesce_window = coalesce_window

    async def remember_recipient(self, account_id: str, email: str, session: AsyncClientSession) -> None:
        """Store the account's address and release its waiting notifications (caller's transaction)."""
        await self.recipients.remember(account_id, email, session)
        await self.notifications.release_waiting(account_id, self.resend_after, session)

    async def record(self, notification_id: str, notice: Notice, session: AsyncClientSession) -> bool:
        """Remember, in the caller's transaction, that `notice` must be mailed; True when the
        caller should send it right after the commit.

        The recipient's preference for the kind decides: `off` records nothing, `digest`
        queues it for the digest job, `instant` makes it pending. A notice that coalesces
        is held for the window, or folded into the row already held for the same
        recipient and subject. Without an address yet the row waits for `account.created`.
        """
        mode = await self.preferences.mode(notice.account_id, notice.kind, session)
        if mode == OFF:
            log.info("notification_off", notification_id=notification_id, kind=notice.kind)
            return False
        hold, key = None, None
        if notice.coalesce and self.coalesce_window > timedelta(0):
            key = f"{notice.account_id}:{notice.kind}:{notice.coalesce}"
            facts = {k: v for k, v in notice.params.items() if k != "changes"}
            if await self.notifications.merge(key, facts, session):
                log.info("notification_coalesced", notification_id=notification_id, kind=notice.kind)
                return False
            hold = self.coalesce_window
        digest = mode == DIGEST_MODE
        waiting = not digest and await self.recipients.address(notice.account_id, session) is None
        if waiting:
            await self.recipients.touch(notice.account_id, session)  # conflicts with a concurrent remember
            log.info("notification_waiting_for_recipient", notification_id=notification_id, kind=notice.kind)
        await self.notifications.insert_pending(
            notification_id=notification_id,
            account_id=notice.account_id,
            kind=notice.kind,
            params=notice.params,
            subject=render(notice.kind, notice.params).subject,
            resend_after=self.resend_after,
            waiting=waiting,
            session=session,
            digest=digest,
            hold=hold,
            coalesce_key=key,
        )
        return not (digest or waiting or hold)

    async def record_for_followers(
        self, event_id: str, event: FileModified, session: AsyncClientSession
    ) -> list[str]:
        """A change to a followed file: one notice per follower other than whoever made it."""
        to_send = []
        for follower_id in await self.follows.followers(event.document_id, session):
            if follower_id == event.actor_id:
                continue
            notification_id = f"{event_id}:{follower_id}"
            if await self.record(notification_id, Notice.file_modified(event, follower_id), session):
                to_send.append(notification_id)
        return to_send

    async def send_digests(self) -> int:
        """One digest mail per account with queued items; returns how many digests were made."""
        made = 0
        for account_id in await self.notifications.accounts_with_digest_items():
            if await self.recipients.address(account_id) is None:
                continue  # digest items wait for the address like any other mail
            digest_id = f"digest:{uuid.uuid4().hex}"

            async def work(session: AsyncClientSession, account_id: str = account_id,
                           digest_id: str = digest_id) -> bool:
                items = await self.notifications.digest_items(account_id, session)
                if not items:
                    return False
                params = {"items": [{"kind": row["kind"], "params": row["params"]} for row in items]}
                await self.notifications.insert_pending(
                    notification_id=digest_id, account_id=account_id, kind=DIGEST, params=params,
                    subject=render(DIGEST, params).subject, resend_after=self.resend_after, waiting=False,
                    session=session,
                )
                await self.notifications.mark_digested([row["_id"] for row in items], digest_id, session)
                return True

            if await self.transaction(work):
                made += 1
                await self.send_new(digest_id)
        return made

    async def run_digests(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_digests()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("digest_failed")

    async def send_new(self, notification_id: str) -> None:
        """Send a just-committed notification, unless a sender already claimed it."""
        crashpoint("notify.before_send")
        row = await self.notifications.claim_new(notification_id, self.resend_after)
        if row is not None:
            await self._deliver(row)

    async def send_released(self, account_id: str) -> None:
        """Send the notifications `remember_recipient` just released (after its commit)."""
        while (row := await self.notifications.claim_new_of_account(account_id, self.resend_after)) is not None:
            await self._deliver(row)

    async def sweep(self) -> int:
        """Send every pending notification whose lease ran out; returns how many were tried."""
        tried = 0
        while (row := await self.notifications.claim_due(self.resend_after)) is not None:
            log.info("notification_resending", notification_id=row["_id"], kind=row["kind"], attempt=row["attempts"])
            await self._deliver(row)
            tried += 1
        return tried

    async def run_sweeper(self, interval: float) -> None:
        """Sweep until cancelled; errors (MongoDB away) are logged and retried next round."""
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notification_sweep_failed")
            await asyncio.sleep(interval)

    async def _deliver(self, row: dict[str, Any]) -> None:
        """Send a claimed row and record the outcome. Never raises for a send failure."""
        notification_id, kind, attempt = row["_id"], row["kind"], row["attempts"]
        bound = log.bind(notification_id=notification_id, kind=kind, attempt=attempt)
        address = await self.recipients.address(row["account_id"])
        if address is None:
            await self.notifications.mark_failed_attempt(notification_id, "recipient unknown", final=True)
            mails_total.labels(kind, "failed").inc()
            bound.error("notification_failed", reason="recipient unknown")
            return
        try:
            link = await self.unsubscribe.link(row["account_id"], kind)
            message = with_unsubscribe(render(kind, row["params"]), link, describe(kind))
            message_id = await self.mailer.send(Mail(to=address, message=message, unsubscribe_url=link))
        except asyncio.CancelledError:
            raise
        except MailRejected as error:
            await self.notifications.mark_failed_attempt(notification_id, str(error), final=True)
            mails_total.labels(kind, "rejected").inc()
            bound.error("notification_rejected", error=str(error))
            return
        except Exception as error:
            final = attempt >= self.max_attempts
            await self.notifications.mark_failed_attempt(notification_id, repr(error), final=final)
            mails_total.labels(kind, "failed" if final else "retry").inc()
            bound.warning("notification_send_failed", error=repr(error), final=final)
            return
        # The duplicate window: SES has the mail, the row still says pending.
        crashpoint("notify.after_send")
        await self.notifications.mark_sent(notification_id, message_id)
        mails_total.labels(kind, "sent").inc()
        bound.info("notification_sent", message_id=message_id)

"""Turning events into mails, each exactly once per event id (up to one narrow window).

1. The consumer's use case (`notify`, `notify_followers`) runs in `uow.run_once`: one
   transaction with the processed-event record. It remembers that the event calls for a
   mail: a `pending` row keyed by the event id. A redelivered event finds its
   processed-event record and records nothing.
2. After the commit (`tx.after_commit`), `send_new` claims the row, sends it through the
   mailer (SES) and marks it `sent` with SES's message id. The mail itself is never sent
   inside a transaction: a transaction may run more than once.
3. `sweep` (a background task) sends rows that stayed `pending` past their lease: the
   process died between commit and send, or SES failed.

Topics are not ordered against each other, so a quota mail can arrive before the
account's `account.created`. Its row is then recorded `waiting`, and
`remember_recipient` releases it (to `pending`, in the same transaction that stores the
address) and sends it after that commit. Waiting instead of failing and retrying matters:
the service reads all its topics with one Kafka consumer, so an in-place retry of the quota
event would hold back the very `account.created` it waits for.

Sending one row is three steps, each write on its own, outside any transaction (see
`_claim`): the claim (the lease: one atomic update that counts the attempt and pushes the
next attempt a lease ahead), then the address read and the unsubscribe token remembered;
the SES call; one update that marks it `sent` (or the attempt failed). The one duplicate
left: a crash after SES accepted a mail but before the row was marked `sent`, or a response
lost on the way back, sends that mail again when the sweeper retries (SES has no
idempotency key). The window is one SES round trip plus one MongoDB update.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from docstore_events import AccountCreated, FileModified
from docstore_events.credentials import AccountEmailVerified
from docstore_messaging.faults import crashpoint
from docstore_messaging.tracing import loop_span
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_notify.adapters.notification_log import NotificationLog
from docstore_notify.adapters.repositories import Repositories
from docstore_notify.domain.errors import MailRejected
from docstore_notify.domain.mail import DIGEST, Mail, describe, render, with_unsubscribe
from docstore_notify.domain.notices import DIGEST as DIGEST_MODE
from docstore_notify.domain.notices import OFF, Notice
from docstore_notify.domain.unsubscribe import UnsubscribeLinks

log = structlog.get_logger(__name__)

mails_total = Counter("docstore_notify_mails_total", "Mail send attempts, by kind and outcome", ["kind", "outcome"])

Row = dict[str, Any]


class Mailer(Protocol):
    """Sends one mail; returns the mail service's message id. Raises `MailRejected` when the
    mail can never be sent as it is, anything else for a failure worth retrying."""

    async def send(self, mail: Mail) -> str: ...


@dataclass(frozen=True)
class Claimed:
    """A row this sender holds the lease of, with what sending it needs (`address` None:
    nobody to send it to, the row already failed)."""

    row: Row
    address: str | None = None
    unsubscribe_url: str | None = None


async def _no_addresses(_account_id: str) -> str | None:
    return None


class Notifier:
    """The use cases that record and send notifications.

    `uow` runs each state change that must commit together in a transaction; `reads` are the
    same repositories outside any transaction, for reads that need no consistency with a write
    and for a sent mail's single writes (`_claim`)."""

    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        mailer: Mailer,
        links: UnsubscribeLinks,
        *,
        resend_after: timedelta,
        max_attempts: int,
        coalesce_window: timedelta = timedelta(seconds=60),
        consumer: str = "notify",
        addresses: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        """`addresses`: an account's current address from metadata (after an e-mail change)."""
        self.uow = uow
        self.reads = reads
        self.mailer = mailer
        self.links = links
        self.resend_after = resend_after
        self.max_attempts = max_attempts
        self.coalesce_window = coalesce_window
        self.consumer = consumer
        self.addresses = addresses or _no_addresses

    # --- events (each in `uow.run_once`; what to send goes out after the commit) ---

    async def remember_recipient(self, event_id: str, event: AccountCreated) -> bool:
        """Store the account's address, release its waiting notifications and send them."""

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.recipients.remember(event.account_id, event.email, event.username)
            if not event.email_verified:
                await tx.repos.recipients.mark_unverified(event.account_id)
            if await tx.repos.recipients.may_mail(event.account_id):  # unverified: verification releases them
                await tx.repos.notifications.release_waiting(event.account_id, self.resend_after)
                tx.after_commit(lambda: self.send_released(event.account_id))  # mails that came before the address

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def verify_recipient(self, event_id: str, event: AccountEmailVerified) -> bool:
        """`account.email-verified`: mail may go to the account again; with `changed`, to the new
        address, which only metadata gives (`addresses`, over HTTP: never in an event)."""
        address = await self.addresses(event.account_id) if event.changed else None

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.recipients.mark_verified(event.account_id, address)
            await tx.repos.notifications.release_waiting(event.account_id, self.resend_after)
            tx.after_commit(lambda: self.send_released(event.account_id))

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def notify(self, event_id: str, notice: Notice) -> bool:
        """Record the mail `notice` calls for (keyed by the event id) and send it after the commit."""

        async def work(tx: Transaction[Repositories]) -> None:
            if await self._record(tx.repos, event_id, notice):
                tx.after_commit(self._sender(event_id))

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def notify_followers(self, event_id: str, event: FileModified) -> bool:
        """A change to a followed file: one notice per follower other than whoever made it."""

        async def work(tx: Transaction[Repositories]) -> None:
            followers = [f for f in await tx.repos.follows.followers(event.document_id) if f != event.actor_id]
            by = await tx.repos.recipients.username(event.actor_id) if followers else None
            for follower_id in followers:
                notification_id = f"{event_id}:{follower_id}"
                if await self._record(tx.repos, notification_id, Notice.file_modified(event, follower_id, by=by)):
                    tx.after_commit(self._sender(notification_id))

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def record(self, tx: Transaction[Repositories], notification_id: str, notice: Notice) -> None:
        """Record, in the caller's transaction, the mail `notice` calls for, and send it after the
        commit (another channel's use case mailing the owner, e.g. a webhook disabled)."""
        if await self._record(tx.repos, notification_id, notice):
            tx.after_commit(self._sender(notification_id))

    def _sender(self, notification_id: str) -> Callable[[], Awaitable[None]]:
        return lambda: self.send_new(notification_id)

    async def set_following(
        self, event_id: str, *, document_id: str, follower_id: str, following: bool, at: datetime
    ) -> bool:
        """`file.followed` / `file.unfollowed`: the latest by event time wins."""

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.follows.set(document_id, follower_id, following, at)

        return await self.uow.run_once(consumer=self.consumer, event_id=event_id, work=work)

    async def _record(self, repos: Repositories, notification_id: str, notice: Notice) -> bool:
        """Remember, in the caller's transaction, that `notice` must be mailed; True when the
        caller should send it right after the commit.

        The recipient's preference for the kind decides: `off` records nothing, `digest`
        queues it for the digest job, `instant` makes it pending. A notice that coalesces
        is held for the window, or folded into the row already held for the same
        recipient and subject. Without an address yet the row waits for `account.created`.
        """
        # Until the address is verified nothing but the verification and reset mails (issue 20) goes
        # to it: the row waits, like one for an unknown address, and `account.email-verified`
        # releases it (so a notice read just before the verification is not lost).
        unverified = not await repos.recipients.may_mail(notice.account_id)
        mode = await repos.preferences.mode(notice.account_id, notice.kind)
        if mode == OFF:
            log.info("notification_off", notification_id=notification_id, kind=notice.kind)
            return False
        hold, key = None, None
        if notice.coalesce and self.coalesce_window > timedelta(0) and not unverified:
            key = notice.coalesce_key()
            assert key is not None
            if await repos.notifications.merge(key, notice.facts()):
                log.info("notification_coalesced", notification_id=notification_id, kind=notice.kind)
                return False
            hold = self.coalesce_window
        digest = mode == DIGEST_MODE and not unverified
        waiting = not digest and (unverified or await repos.recipients.address(notice.account_id) is None)
        if waiting:
            await repos.recipients.touch(notice.account_id)  # conflicts with a concurrent remember or verify
            reason = "verification" if unverified else "recipient"
            log.info(f"notification_waiting_for_{reason}", notification_id=notification_id, kind=notice.kind)
        await repos.notifications.insert_pending(
            notification_id=notification_id,
            account_id=notice.account_id,
            kind=notice.kind,
            params=notice.params,
            subject=render(notice.kind, notice.params).subject,
            resend_after=self.resend_after,
            waiting=waiting,
            digest=digest,
            hold=hold,
            coalesce_key=key,
        )
        return not (digest or waiting or hold)

    # --- digests ---

    async def send_digests(self) -> int:
        """One digest mail per account with queued items; returns how many digests were made."""
        made = 0
        for account_id in await self.reads.notifications.accounts_with_digest_items():
            if await self.reads.recipients.address(account_id) is None:
                continue  # digest items wait for the address like any other mail
            digest_id = f"digest:{uuid.uuid4().hex}"

            async def work(
                tx: Transaction[Repositories], account_id: str = account_id, digest_id: str = digest_id
            ) -> bool:
                items = await tx.repos.notifications.digest_items(account_id)
                if not items:
                    return False
                params = {"items": [{"kind": row["kind"], "params": row["params"]} for row in items]}
                await tx.repos.notifications.insert_pending(
                    notification_id=digest_id,
                    account_id=account_id,
                    kind=DIGEST,
                    params=params,
                    subject=render(DIGEST, params).subject,
                    resend_after=self.resend_after,
                    waiting=False,
                )
                await tx.repos.notifications.mark_digested([row["_id"] for row in items], digest_id)
                return True

            if await self.uow.run(work):
                made += 1
                await self.send_new(digest_id)
        return made

    async def run_digests(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                with loop_span("notify digests"):
                    await self.send_digests()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("digest_failed")

    # --- sending ---

    async def send_new(self, notification_id: str) -> None:
        """Send a just-committed notification, unless a sender already claimed it."""
        crashpoint("notify.before_send")
        claimed = await self._claim(lambda rows: rows.claim_new(notification_id, self.resend_after))
        if claimed is not None:
            await self._deliver(claimed)

    async def send_released(self, account_id: str) -> None:
        """Send the notifications `remember_recipient` just released (after its commit)."""
        while (
            claimed := await self._claim(lambda rows: rows.claim_new_of_account(account_id, self.resend_after))
        ) is not None:
            await self._deliver(claimed)

    async def sweep(self) -> int:
        """Send every pending notification whose lease ran out; returns how many were tried."""
        tried = 0
        while (claimed := await self._claim(lambda rows: rows.claim_due(self.resend_after))) is not None:
            row = claimed.row
            log.info("notification_resending", notification_id=row["_id"], kind=row["kind"], attempt=row["attempts"])
            await self._deliver(claimed)
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

    async def _claim(self, claim: Callable[[NotificationLog], Awaitable[Row | None]]) -> Claimed | None:
        """Take the lease of one row (`claim` picks it) and what sending it needs; a row whose
        account has no address fails for good there.

        Each write stands alone, outside any transaction (as upload's watcher claims): the claim
        is one atomic update, and remembering the unsubscribe token repeats harmlessly. In a
        transaction, a process killed between the claim and its commit left the row locked until
        the database reaped the transaction (60 s), and every sweep, sorted to that row, waited
        behind it. A process killed after the claim leaves the row leased: the sweeper sends it
        once the lease runs out, as after a failed send."""
        row = await claim(self.reads.notifications)
        if row is None:
            return None
        address = await self.reads.recipients.address(row["account_id"])
        if address is None:
            await self.reads.notifications.mark_failed_attempt(row["_id"], "recipient unknown", final=True)
            claimed = Claimed(row)
        else:
            token = self.links.token(row["account_id"], row["kind"])
            await self.reads.unsubscribe_tokens.remember(token, row["account_id"], row["kind"])
            claimed = Claimed(row, address, self.links.url(token))
        if claimed.address is None:
            mails_total.labels(claimed.row["kind"], "failed").inc()
            log.error(
                "notification_failed",
                notification_id=claimed.row["_id"],
                kind=claimed.row["kind"],
                attempt=claimed.row["attempts"],
                reason="recipient unknown",
            )
        return claimed

    async def _deliver(self, claimed: Claimed) -> None:
        """Send a claimed row and record the outcome. Never raises for a send failure."""
        row = claimed.row
        notification_id, kind, attempt = row["_id"], row["kind"], row["attempts"]
        if claimed.address is None or claimed.unsubscribe_url is None:
            return  # failed when claimed: nobody to send it to
        bound = log.bind(notification_id=notification_id, kind=kind, attempt=attempt)
        link = claimed.unsubscribe_url
        try:
            message = with_unsubscribe(render(kind, row["params"], app_url=self.links.base_url), link, describe(kind))
            message_id = await self.mailer.send(Mail(to=claimed.address, message=message, unsubscribe_url=link))
        except asyncio.CancelledError:
            raise
        except MailRejected as error:
            await self.reads.notifications.mark_failed_attempt(notification_id, str(error), final=True)
            mails_total.labels(kind, "rejected").inc()
            bound.error("notification_rejected", error=str(error))
            return
        except Exception as error:
            final = attempt >= self.max_attempts
            await self.reads.notifications.mark_failed_attempt(notification_id, repr(error), final=final)
            mails_total.labels(kind, "failed" if final else "retry").inc()
            bound.warning("notification_send_failed", error=repr(error), final=final)
            return
        # The duplicate window: SES has the mail, the row still says pending.
        crashpoint("notify.after_send")
        await self.reads.notifications.mark_sent(notification_id, message_id)
        mails_total.labels(kind, "sent").inc()
        bound.info("notification_sent", message_id=message_id)

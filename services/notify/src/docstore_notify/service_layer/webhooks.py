"""Webhooks: the owner's endpoints, the fan-out of events into deliveries, and the delivery loop.

A webhook is one more channel of notify, beside mail, and is built the same way:

1. The consumer's use case (`fan_out_many`, for a batch of events) reads the enabled endpoints of
   all the batch's accounts subscribed to any of its event types in one query, matches them to
   the events (`domain.webhooks.fan_out_pairs`) and queues one delivery for each pair, keyed by
   its `webhook-id` (`domain.webhooks.message_id`: the event's and the endpoint's) with the body
   fixed once. The key is the idempotency record: a redelivered event upserts the same rows, so
   no processed-event record is written, and a batch whose accounts have no endpoint costs one
   read in all (issue 35; it was one read per event).
2. Once a row is queued the local delivery loop is woken; the loop (`run`, one per replica) claims
   due deliveries (a lease in MongoDB), POSTs them, and records the outcome while its claim holds:
   delivered; or failed, due again after the next wait of the retry schedule; or after the last
   try a dead letter (`dead`, kept with its history for the owner to see). While nothing is due
   it sleeps until woken or until the earliest pending row is due, at most its interval.
3. A process killed at any line leaves a pending row whose lease ends: any replica sends it
   again, under the same `webhook-id`. Delivery is at least once; receivers drop repeats by id.

An endpoint whose attempts fail `disable_after` times in a row is disabled and its owner is mailed
(notify's mail path: a `webhooks` notice recorded in the same transaction, sent after the commit).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from docstore_events.webhooks import WebhookDisabled
from docstore_messaging.faults import crashpoint
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_notify.adapters.repositories import Repositories
from docstore_notify.adapters.secret_box import SecretBox
from docstore_notify.adapters.webhook_http import Answer, Resolver, TargetRefused, WebhookClient, checked_addresses
from docstore_notify.adapters.webhooks import DEAD, DELIVERED, PENDING, DeliveryPage, Row
from docstore_notify.domain.webhook_mails import webhook_disabled_notice
from docstore_notify.domain.webhooks import (
    MAX_DESCRIPTION,
    MAX_ENDPOINTS,
    REPLAYABLE,
    TEST_EVENT,
    DeliveryNotFound,
    DocumentEvent,
    InvalidWebhook,
    NotReplayable,
    RefusedTarget,
    WebhookNotFound,
    checked_events,
    checked_url,
    fan_out_pairs,
    message_id,
    new_secret,
    next_delay,
    payload,
    replay_refusal,
    sign,
)
from docstore_notify.service_layer.notifier import Notifier

log = structlog.get_logger(__name__)

deliveries_total = Counter(
    "docstore_notify_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
delivery_seconds = Histogram(
    "docstore_notify_webhook_delivery_seconds", "From the queued delivery to the receiver's 2xx, first try"
)

ERROR_PAUSE_SECONDS = 1.0
"""The delivery loop's wait after a failure of its own (MongoDB unreachable), however long its interval."""
MIN_PAUSE_SECONDS = 0.01
"""Its shortest sleep: a row due now is claimed on the next round, and the loop never spins."""


@dataclass(frozen=True)
class Created:
    webhook: Row
    secret: str
    """The signing secret, returned once, at creation; stored only encrypted."""


class Webhooks:
    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        box: SecretBox,
        client: WebhookClient,
        notifier: Notifier,
        *,
        allow_private: bool,
        schedule: Sequence[float],
        lease: timedelta,
        disable_after: int,
        resolve: Resolver | None = None,
        concurrency: int = 8,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.box = box
        self.client = client
        self.notifier = notifier
        self.allow_private = allow_private
        self.schedule = tuple(schedule)
        self.lease = lease
        self.disable_after = disable_after
        self.resolve = resolve or client.resolve
        self.concurrency = concurrency
        self._wake = asyncio.Event()

    # --- the owner's endpoints (routes) ---

    async def register(self, account_id: str, *, url: str, events: Sequence[str], description: str = "") -> Created:
        target = await self._checked_target(url)
        kinds = checked_events(events)
        if len(description) > MAX_DESCRIPTION:
            raise InvalidWebhook(f"the description is longer than {MAX_DESCRIPTION} characters")
        secret = new_secret()
        now = datetime.now(UTC)
        row: Row = {
            "_id": "wh_" + uuid.uuid4().hex,
            "account_id": account_id,
            "url": target.url,
            "description": description,
            "events": kinds,
            "enabled": True,
            "secret": self.box.encrypt(secret),
            "consecutive_failures": 0,
            "created_at": now,
            "updated_at": now,
        }

        async def work(tx: Transaction[Repositories]) -> None:
            if await tx.repos.webhooks.count(account_id) >= MAX_ENDPOINTS:
                raise InvalidWebhook(f"an account has at most {MAX_ENDPOINTS} webhooks; delete one first")
            await tx.repos.webhooks.insert(row)

        await self.uow.run(work)
        log.info("webhook_registered", webhook_id=row["_id"], events=kinds)
        return Created(row, secret)

    async def all_of(self, account_id: str) -> list[Row]:
        return await self.reads.webhooks.of_account(account_id)

    async def page(self, account_id: str, *, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
        """The account's endpoints, oldest first, `limit` at a time; raises `InvalidCursor`."""
        return await self.reads.webhooks.page(account_id, limit=limit, cursor=cursor)

    async def get(self, account_id: str, webhook_id: str) -> Row:
        row = await self.reads.webhooks.get(account_id, webhook_id)
        if row is None:
            raise WebhookNotFound(f"you have no webhook {webhook_id}")
        return row

    async def update(
        self,
        account_id: str,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Row:
        """Change what is given; enabling again clears the failure count (the owner fixed it)."""
        await self.get(account_id, webhook_id)
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = (await self._checked_target(url)).url
        if events is not None:
            changes["events"] = checked_events(events)
        if description is not None:
            if len(description) > MAX_DESCRIPTION:
                raise InvalidWebhook(f"the description is longer than {MAX_DESCRIPTION} characters")
            changes["description"] = description
        if enabled is not None:
            changes["enabled"] = enabled
            if enabled:
                changes |= {"consecutive_failures": 0, "disabled_reason": None}
        row = await self.reads.webhooks.update(account_id, webhook_id, changes) if changes else None
        if changes and row is None:
            raise WebhookNotFound(f"you have no webhook {webhook_id}")
        return row or await self.get(account_id, webhook_id)

    async def delete(self, account_id: str, webhook_id: str) -> None:
        async def work(tx: Transaction[Repositories]) -> bool:
            if not await tx.repos.webhooks.delete(account_id, webhook_id):
                return False
            await tx.repos.deliveries.delete_of(webhook_id)
            return True

        if not await self.uow.run(work):
            raise WebhookNotFound(f"you have no webhook {webhook_id}")

    async def deliveries(
        self, account_id: str, webhook_id: str, *, limit: int, cursor: str | None, status: str | None = None
    ) -> DeliveryPage:
        """The endpoint's deliveries, newest first; with `status` only those (`dead`: the dead letters)."""
        await self.get(account_id, webhook_id)
        return await self.reads.deliveries.page(webhook_id, limit=limit, cursor=cursor, status=status)

    async def replay(self, account_id: str, webhook_id: str, delivery_id: str) -> Row:
        """Send a dead (or cancelled) delivery again: the same row, due now, with a fresh round of
        attempts and the same `webhook-id`, so a receiver that had it drops the repeat. Idempotent:
        a delivery already pending is left as it is; a delivered one, or any to an endpoint that
        is turned off, is 409 with the reason."""
        webhook = await self.get(account_id, webhook_id)
        row = await self.reads.deliveries.get(delivery_id)
        if row is None or row["webhook_id"] != webhook_id:
            raise DeliveryNotFound(f"webhook {webhook_id} has no delivery {delivery_id}")
        if (refusal := replay_refusal(row["status"], enabled=bool(webhook.get("enabled")))) is not None:
            raise NotReplayable(refusal)

        async def work(tx: Transaction[Repositories]) -> Row | None:
            again = await tx.repos.deliveries.replay(delivery_id, webhook_id, REPLAYABLE)
            if again is not None:
                tx.after_commit(self.wake)
            return again

        replayed = await self.uow.run(work)
        if replayed is not None:
            log.info("webhook_delivery_replayed", delivery_id=delivery_id, webhook_id=webhook_id)
            return replayed
        current = await self.reads.deliveries.get(delivery_id)  # replayed by a request just before
        assert current is not None
        return current

    async def send_test(self, account_id: str, webhook_id: str) -> Row:
        """Queue a `webhook.test` delivery to the endpoint (enabled or not: testing a fix comes
        before enabling it again); it is delivered like any other."""
        row = await self.get(account_id, webhook_id)
        event_id = "test-" + uuid.uuid4().hex
        body = payload(TEST_EVENT, {"account_id": account_id}, datetime.now(UTC))
        body["data"] |= {"webhook_id": webhook_id}
        delivery_id = message_id(event_id, webhook_id)

        async def work(tx: Transaction[Repositories]) -> None:
            await tx.repos.deliveries.enqueue(
                delivery_id=delivery_id,
                webhook_id=row["_id"],
                account_id=account_id,
                event_type=TEST_EVENT,
                event_id=event_id,
                body=json.dumps(body, separators=(",", ":")),
            )
            tx.after_commit(self.wake)

        await self.uow.run(work)
        found = await self.reads.deliveries.get(delivery_id)
        assert found is not None
        return found

    async def _checked_target(self, url: str) -> Any:
        target = checked_url(url, allow_private=self.allow_private)
        if not self.allow_private:
            try:
                await checked_addresses(target, self.resolve, allow_private=False)
            except TargetRefused as error:
                raise RefusedTarget(str(error)) from error
        return target

    # --- events (the consumer) ---

    async def fan_out(self, event_id: str, event_type: str, data: dict[str, Any], at: datetime) -> bool:
        """`fan_out_many` of one event; True when a delivery was queued now."""
        return await self.fan_out_many([DocumentEvent(event_id, event_type, data, at)]) > 0

    async def fan_out_many(self, events: Sequence[DocumentEvent]) -> int:
        """Queue a delivery of each event to each of its account's endpoints that asked for it;
        returns how many were queued now. An event's account is its `account_id`: the owner of
        the document, whoever acted.

        One read for the whole batch: the enabled endpoints of all its accounts subscribed to any
        of its types (`$in`), matched to the events here (`fan_out_pairs`). Most accounts have no
        endpoint: a batch of their events costs that one read and no write (issue 35).
        No processed-event record and no transaction: each delivery row's id is the event's and
        the endpoint's (`message_id`) and is upserted, so a redelivered batch (or event) queues
        nothing twice, and an interruption between two rows is finished by the redelivery."""
        if not events:
            return 0
        accounts = sorted({event.account_id for event in events})
        types = sorted({event.event_type for event in events})
        endpoints = await self.reads.webhooks.subscribed(accounts, types)
        bodies: dict[str, str] = {}
        queued = 0
        for event, webhook in fan_out_pairs(events, endpoints):
            if event.event_id not in bodies:  # the body is the event's, the same for each endpoint
                body = payload(event.event_type, event.data, event.at)
                bodies[event.event_id] = json.dumps(body, separators=(",", ":"), default=str)
            queued += await self.reads.deliveries.enqueue(
                delivery_id=message_id(event.event_id, webhook["_id"]),
                webhook_id=webhook["_id"],
                account_id=event.account_id,
                event_type=event.event_type,
                event_id=event.event_id,
                body=bodies[event.event_id],
            )
        if queued:
            self.wake()
        return queued

    # --- the delivery loop ---

    def wake(self) -> None:
        self._wake.set()

    async def run(self, interval: float) -> None:
        """Deliver due rows until cancelled. While none is due, sleep until woken (a fan-out, replay
        or test event of this process), until the earliest pending row is due (a retry; a claim
        whose sender died, at the end of its lease), or `interval` at most (a row another replica
        queued and died before sending). Each idle round is two reads, not one every second."""
        while True:
            # Cleared before looking: a wake from here on is for a row written after this point,
            # which the claims below may miss, so it ends the sleep at once.
            self._wake.clear()
            try:
                if await self.deliver_due():
                    continue
                pause = await self._until_due(interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook_loop_failed")
                pause = min(interval, ERROR_PAUSE_SECONDS)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(pause, MIN_PAUSE_SECONDS))
            except TimeoutError:
                pass

    async def _until_due(self, interval: float) -> float:
        """Seconds until the earliest pending delivery is due, at most `interval`."""
        due = await self.reads.deliveries.next_due()
        if due is None:
            return interval
        return min(interval, (_utc(due) - datetime.now(UTC)).total_seconds())

    async def deliver_due(self) -> int:
        """Claim up to `concurrency` due deliveries and attempt them at once; returns how many."""
        claimed: list[Row] = []
        for _ in range(self.concurrency):
            row = await self.reads.deliveries.claim_due(self.lease)
            if row is None:
                break
            claimed.append(row)
        if claimed:
            await asyncio.gather(*(self._guarded(row) for row in claimed))
        return len(claimed)

    async def _guarded(self, row: Row) -> None:
        """`_attempt`, where a failure of our own (MongoDB, a bug) leaves the row to its lease."""
        try:
            await self._attempt(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook_attempt_crashed", delivery_id=row["_id"], webhook_id=row["webhook_id"])

    async def _attempt(self, row: Row) -> None:
        """One attempt of a claimed delivery, and its outcome. Never raises for a failed POST."""
        bound = log.bind(delivery_id=row["_id"], webhook_id=row["webhook_id"], attempt=row["attempts"])
        if row["attempts"] > len(self.schedule) + 1:  # claimed again and again without an outcome recorded
            await self._record(row, None, Answer(None, 0, "no outcome could be recorded"), final=True, counts=False)
            return
        webhook = await self.reads.webhooks.by_id(row["webhook_id"])
        if webhook is None or (not webhook.get("enabled") and row["event_type"] != TEST_EVENT):
            await self._record(
                row, None, Answer(None, 0, "the webhook was deleted or disabled"), final=True, counts=False
            )
            return
        try:
            target = checked_url(webhook["url"], allow_private=self.allow_private)
            secret = self.box.decrypt(webhook["secret"])
        except (InvalidWebhook, ValueError) as error:
            await self._record(row, webhook, Answer(None, 0, str(error)), final=True, counts=False)
            return
        now = datetime.now(UTC)
        headers = sign(secret, row["_id"], now, row["body"]).as_dict()
        answer = await self.client.post(target, headers, row["body"].encode())
        crashpoint("notify.webhook_after_post")  # the duplicate window: the receiver has it, the row says pending
        if answer.ok:
            if row["attempts"] == 1:
                delivery_seconds.observe((datetime.now(UTC) - _utc(row["created_at"])).total_seconds())
            await self._record(row, webhook, answer, final=False)
            bound.info("webhook_delivered", status_code=answer.status_code, latency_ms=answer.latency_ms)
            return
        bound.warning("webhook_attempt_failed", status_code=answer.status_code, error=answer.error)
        await self._record(row, webhook, answer, final=False)

    async def _record(self, row: Row, webhook: Row | None, answer: Answer, *, final: bool, counts: bool = True) -> None:
        """Write the attempt's outcome; `counts`: a failure of the endpoint (not of our own state)."""
        attempt = {
            "at": datetime.now(UTC),
            "status_code": answer.status_code,
            "latency_ms": answer.latency_ms,
            "error": answer.error,
        }
        if answer.ok:
            status, due = DELIVERED, None
        else:
            delay = None if final else next_delay(row["attempts"], self.schedule)
            status, due = (DEAD, None) if delay is None else (PENDING, datetime.now(UTC) + delay)

        async def work(tx: Transaction[Repositories]) -> None:
            if not await tx.repos.deliveries.record(row, status=status, attempt=attempt, next_attempt_at=due):
                return  # another sender took the row after our lease ended; its outcome stands
            if webhook is None:
                return
            if answer.ok:
                await tx.repos.webhooks.succeeded(webhook["_id"])
                return
            if not counts:
                return  # nothing was tried (deleted, disabled, bad key): no failure of the endpoint
            reason = f"{self.disable_after} delivery attempts in a row failed (last: {answer.error})"
            disabled = await tx.repos.webhooks.failed(webhook["_id"], self.disable_after, reason)
            if disabled is not None:
                await tx.repos.deliveries.cancel_pending(webhook["_id"], "the webhook was disabled")
                # For the audit trail (metadata's audit consumer records every catalogued event).
                tx.emit(
                    WebhookDisabled(
                        account_id=webhook["account_id"],
                        webhook_id=webhook["_id"],
                        failures=self.disable_after,
                        last_error=(answer.error or "")[:200] or None,
                    )
                )
                notice = webhook_disabled_notice(disabled, reason)
                await self.notifier.record(tx, f"webhook-disabled:{webhook['_id']}:{uuid.uuid4().hex}", notice)
                log.warning("webhook_disabled", webhook_id=webhook["_id"], failures=self.disable_after)

        await self.uow.run(work)
        outcome = "delivered" if answer.ok else status
        deliveries_total.labels("retry" if outcome == PENDING else outcome).inc()
        if status == DEAD:
            log.warning("webhook_dead_letter", delivery_id=row["_id"], webhook_id=row["webhook_id"], error=answer.error)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

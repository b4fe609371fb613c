"""The webhook fan-out of a batch of events (`Webhooks.fan_out_many`), the consumer's one batch
subscription, and the delivery loop's sleep, on in-memory repositories (`notify_fakes.py`).

Issue 35: the fan-out read the owner's endpoints once per event, although almost no account has
one; now a batch costs one read, whatever its size and accounts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from notify_fakes import World

from docstore_events import Envelope, FileModified
from docstore_events.base import Event
from docstore_events.files import FileDeleted, FileTrashed, FileVersionRecorded, ShareCreated
from docstore_events.quota import QuotaExceeded
from docstore_notify.consumers.handlers import WEBHOOK_EVENTS, handlers, register
from docstore_notify.domain.webhooks import EVENT_TYPES, DocumentEvent, fan_out_pairs, message_id, payload

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def recorded(n: int, account_id: str) -> DocumentEvent:
    data = {"account_id": account_id, "document_id": f"doc-{n}", "version": 1, "filename": f"f{n}.txt", "size": 3}
    return DocumentEvent(f"ev-{n}", "file.version-recorded", data, AT)


def trashed(n: int, account_id: str) -> DocumentEvent:
    return DocumentEvent(f"ev-{n}", "file.trashed", {"account_id": account_id, "document_id": f"doc-{n}"}, AT)


def several_accounts(world: World) -> list[DocumentEvent]:
    """ann: one endpoint for versions, one for trash; bob: one for trash and a disabled one; cy: none."""
    world.endpoints.add("wh-ann-v", "acc-ann", ["file.version-recorded", "file.deleted"])
    world.endpoints.add("wh-ann-t", "acc-ann", ["file.trashed"])
    world.endpoints.add("wh-bob-t", "acc-bob", ["file.trashed"])
    world.endpoints.add("wh-bob-off", "acc-bob", ["file.version-recorded", "file.trashed"], enabled=False)
    return [
        recorded(1, "acc-ann"),
        recorded(2, "acc-bob"),
        trashed(3, "acc-bob"),
        recorded(4, "acc-cy"),
        trashed(5, "acc-ann"),
        trashed(6, "acc-cy"),
    ]


async def test_a_batch_of_several_accounts_costs_one_read_and_queues_each_wanted_delivery() -> None:
    world = World.build()
    webhooks = world.webhooks()
    events = several_accounts(world)

    assert await webhooks.fan_out_many(events) == 3
    assert world.endpoints.commands == 1  # one read for six events of three accounts
    assert world.deliveries.commands == 3  # one upsert per delivery, none for the others
    rows = world.deliveries.rows
    assert set(rows) == {
        message_id("ev-1", "wh-ann-v"),
        message_id("ev-3", "wh-bob-t"),
        message_id("ev-5", "wh-ann-t"),
    }
    row = rows[message_id("ev-1", "wh-ann-v")]
    assert (row["webhook_id"], row["account_id"], row["event_type"], row["event_id"], row["status"]) == (
        "wh-ann-v",
        "acc-ann",
        "file.version-recorded",
        "ev-1",
        "pending",
    )
    assert json.loads(row["body"]) == payload("file.version-recorded", events[0].data, AT)
    assert webhooks._wake.is_set()  # the local delivery loop is woken


async def test_a_redelivered_batch_queues_nothing_twice() -> None:
    world = World.build()
    webhooks = world.webhooks()
    events = several_accounts(world)
    assert await webhooks.fan_out_many(events) == 3
    before = {key: dict(row) for key, row in world.deliveries.rows.items()}
    webhooks._wake.clear()

    assert await webhooks.fan_out_many(events) == 0  # Kafka delivers the batch again
    assert await webhooks.fan_out_many(events[2:4]) == 0  # or part of it, in another batch
    assert world.deliveries.rows == before
    assert not webhooks._wake.is_set()
    assert world.endpoints.commands == 3  # still one read per batch


async def test_an_interrupted_batch_is_finished_by_its_redelivery() -> None:
    world = World.build()
    webhooks = world.webhooks()
    events = several_accounts(world)
    assert await webhooks.fan_out_many(events[:2]) == 1  # killed after the first part
    assert await webhooks.fan_out_many(events) == 2  # the redelivery queues only what was missing
    assert len(world.deliveries.rows) == 3


async def test_a_batch_of_accounts_without_endpoints_costs_one_read_and_no_write() -> None:
    world = World.build()
    webhooks = world.webhooks()
    world.endpoints.add("wh-other", "acc-other", ["file.version-recorded"])
    events = [recorded(n, f"acc-{n % 7}") for n in range(250)]

    assert await webhooks.fan_out_many(events) == 0
    assert (world.endpoints.commands, world.deliveries.commands) == (1, 0)
    assert not webhooks._wake.is_set()
    assert await webhooks.fan_out_many([]) == 0  # nothing to read for an empty batch
    assert world.endpoints.commands == 1


async def test_fan_out_of_one_event_is_the_batch_of_one() -> None:
    world = World.build()
    webhooks = world.webhooks()
    world.endpoints.add("wh-1", "acc-ann", ["file.trashed"])
    assert await webhooks.fan_out("ev-1", "file.trashed", {"account_id": "acc-ann", "document_id": "d"}, AT)
    assert not await webhooks.fan_out("ev-1", "file.trashed", {"account_id": "acc-ann", "document_id": "d"}, AT)
    assert list(world.deliveries.rows) == [message_id("ev-1", "wh-1")]


def test_pairs_keep_the_events_order_and_skip_disabled_other_account_and_other_type_endpoints() -> None:
    endpoints = [
        {"_id": "wh-a", "account_id": "acc-a", "events": ["file.trashed", "file.trashed"], "enabled": True},
        {"_id": "wh-b", "account_id": "acc-a", "events": ["file.trashed"], "enabled": True},
        {"_id": "wh-off", "account_id": "acc-a", "events": ["file.trashed"], "enabled": False},
        {"_id": "wh-c", "account_id": "acc-c", "events": ["file.restored"], "enabled": True},
    ]
    events = [trashed(1, "acc-a"), trashed(2, "acc-c"), trashed(3, "acc-a")]
    pairs = [(event.event_id, endpoint["_id"]) for event, endpoint in fan_out_pairs(events, endpoints)]
    assert pairs == [("ev-1", "wh-a"), ("ev-1", "wh-b"), ("ev-3", "wh-a"), ("ev-3", "wh-b")]
    assert fan_out_pairs(events, []) == []


# --- the consumer ---


class Runtime:
    """An event runtime that records the subscriptions `register` makes."""

    def __init__(self) -> None:
        self.batches: list[tuple[Any, tuple[type[Event], ...]]] = []

    def subscribe(self, event_class: type[Event], handler: Any) -> None:
        raise AssertionError("notify consumes in batches: one subscription for every event")

    def subscribe_batch(self, handler: Any, *event_classes: type[Event]) -> None:
        self.batches.append((handler, event_classes))


def test_every_event_goes_through_one_batch_subscription_and_each_webhook_type_is_consumed() -> None:
    runtime = Runtime()
    register(runtime, World.build().notifier, World.build().webhooks())  # type: ignore[arg-type]
    [(_, classes)] = runtime.batches
    assert len(classes) == len(set(classes)) and set(classes) == set(handlers(World.build().notifier)) | set(
        WEBHOOK_EVENTS
    )
    assert {event_class.type for event_class in WEBHOOK_EVENTS} == set(EVENT_TYPES)


async def test_a_batch_mails_each_event_in_order_and_fans_out_the_document_events_once() -> None:
    calls: list[Any] = []

    class Notifier:
        async def notify(self, event_id: str, notice: Any) -> bool:
            calls.append(("notify", event_id))
            return True

        async def notify_followers(self, event_id: str, event: Any) -> bool:
            calls.append(("followers", event_id))
            return True

    class Webhooks:
        async def fan_out_many(self, events: list[DocumentEvent]) -> int:
            calls.append(("fan_out_many", [(e.event_id, e.event_type, e.account_id) for e in events]))
            return 0

    runtime = Runtime()
    register(runtime, Notifier(), Webhooks())  # type: ignore[arg-type]
    [(batch, _)] = runtime.batches

    def envelope(event_id: str, data: Event) -> Envelope[Any]:
        return Envelope(id=event_id, source="/docstore/us-west-2/metadata", time=AT, data=data)

    owner = "acc-owner"
    await batch(
        [
            envelope("e1", FileVersionRecorded(**_version(owner))),
            envelope("e2", QuotaExceeded(account_id=owner, used_bytes=6, cap_bytes=5, plan="free")),
            envelope(
                "e3",
                FileModified(account_id=owner, document_id="d", version=2, name="n", size=1, actor_id="acc-x"),
            ),
            envelope("e4", FileTrashed(account_id=owner, document_id="d")),
            envelope(
                "e5",
                ShareCreated(
                    account_id=owner,
                    document_id="d",
                    grantee_id="acc-bob",
                    permission="view",
                    owner_username="ann",
                    document_name="n",
                ),
            ),
            envelope(
                "e6", FileDeleted(account_id="acc-2", document_id="d2", versions=[1], size=3, whole_document=True)
            ),
        ]
    )
    assert calls == [
        ("notify", "e2"),
        ("followers", "e3"),
        ("notify", "e5"),
        (
            "fan_out_many",
            [
                ("e1", "file.version-recorded", owner),
                ("e3", "file.modified", owner),
                ("e4", "file.trashed", owner),
                ("e5", "share.created", owner),
                ("e6", "file.deleted", "acc-2"),
            ],
        ),
    ]


def _version(account_id: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "document_id": "d",
        "version": 1,
        "filename": "a.txt",
        "content_type": "text/plain",
        "size": 3,
        "sha256": "0" * 64,
        "bucket": "b",
        "key": "k",
        "upload_id": "up-1",
    }


# --- the delivery loop ---


async def test_an_idle_loop_sleeps_until_the_earliest_due_row_not_every_interval() -> None:
    world = World.build()
    webhooks = world.webhooks()
    world.endpoints.add("wh-gone", "acc-ann", ["file.trashed"])
    await webhooks.fan_out_many([trashed(1, "acc-ann")])
    row = world.deliveries.rows[message_id("ev-1", "wh-gone")]
    row["next_attempt_at"] = datetime.now(UTC) + timedelta(seconds=0.4)  # a retry, due soon
    del world.endpoints.rows["wh-gone"]  # the attempt finds the endpoint deleted: recorded, no POST

    loop = asyncio.create_task(webhooks.run(60.0))  # the interval alone would wait a minute
    try:
        for _ in range(100):
            await asyncio.sleep(0.02)
            if row["status"] != "pending":
                break
    finally:
        loop.cancel()
    assert row["status"] == "dead" and row["attempts"] == 1  # taken at its due time
    assert world.deliveries.claims <= 4  # a claim, the wait, the claim that took it, one more


async def test_a_wake_during_a_round_is_not_lost() -> None:
    world = World.build()
    webhooks = world.webhooks()
    world.endpoints.add("wh-1", "acc-ann", ["file.trashed"])
    claim_due = world.deliveries.claim_due

    async def claim_then_fan_out(lease: timedelta) -> Any:
        found = await claim_due(lease)
        if world.deliveries.claims == 1:  # a fan-out commits just after the loop looked
            await webhooks.fan_out_many([trashed(1, "acc-ann")])
            del world.endpoints.rows["wh-1"]  # then deleted: the attempt records the row, no POST
        return found

    world.deliveries.claim_due = claim_then_fan_out  # type: ignore[method-assign]
    loop = asyncio.create_task(webhooks.run(60.0))
    try:
        for _ in range(50):
            await asyncio.sleep(0.02)
            if world.deliveries.rows and next(iter(world.deliveries.rows.values()))["attempts"]:
                break
    finally:
        loop.cancel()
    [row] = world.deliveries.rows.values()
    assert row["attempts"] == 1  # claimed at once, not after the minute

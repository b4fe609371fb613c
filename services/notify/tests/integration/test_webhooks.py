"""notify's webhooks against real MongoDB and a real loopback receiver (development mode: loopback
targets allowed). The delivery loop is driven by the test, so it can be killed mid-batch; the
last test runs the whole service, its batch consumer on real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from standardwebhooks import Webhook

from docstore_devplatform.testing import EventPublisher, eventually
from docstore_devplatform.webhook_receiver import WebhookReceiver
from docstore_events import FileModified
from docstore_events.base import Event
from docstore_events.envelope import KafkaRecord, decode
from docstore_events.files import FileTrashed, FileVersionRecorded
from docstore_events.webhooks import WebhookDisabled
from docstore_notify.adapters.repositories import ensure_indexes
from docstore_notify.bootstrap import Services, bootstrap
from docstore_notify.domain.webhooks import DeliveryNotFound, NotReplayable, WebhookNotFound, message_id
from docstore_notify.main import create_app
from docstore_notify.settings import Settings

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def services(isolated: dict[str, str]) -> AsyncIterator[Services]:
    settings = Settings(
        **isolated,
        webhook_retry_schedule_seconds="0.2,0.2",
        webhook_connect_timeout_seconds=2.0,
        webhook_timeout_seconds=3.0,
        webhook_lease_seconds=3.5,
        webhook_disable_after_failures=100,
        webhook_concurrency=4,
    )
    built = bootstrap(settings)
    await ensure_indexes(built.runtime.db)
    try:
        yield built
    finally:
        await built.webhooks.client.aclose()
        await built.runtime.mongo.close()


def account() -> str:
    return f"acc-{uuid.uuid4().hex[:12]}"


async def trashed(services: Services, account_id: str, event_id: str | None = None) -> str:
    event_id = event_id or str(uuid.uuid4())
    data = {"account_id": account_id, "document_id": f"doc-{uuid.uuid4().hex[:8]}"}
    await services.webhooks.fan_out(event_id, "file.trashed", data, datetime.now(UTC))
    return event_id


async def test_a_delivery_loop_killed_mid_batch_loses_nothing_and_repeats_keep_their_id(services: Services) -> None:
    owner = account()
    services.webhooks.schedule = (0.2,) * 20  # a slow connect under load is retried, never dead-lettered
    # Each answer takes a moment, so the loop is killed with attempts in flight.
    async with WebhookReceiver(delay=0.3) as receiver:
        created = await services.webhooks.register(owner, url=receiver.url(), events=["file.trashed"])
        webhook_id = created.webhook["_id"]
        event_ids = [await trashed(services, owner) for _ in range(12)]
        again = await services.webhooks.fan_out(event_ids[0], "file.trashed", {"account_id": owner}, datetime.now(UTC))
        assert again is False  # a redelivered event queues nothing twice
        expected = {message_id(e, webhook_id) for e in event_ids}

        loop = asyncio.create_task(services.webhooks.run(0.1))
        await receiver.wait_for(lambda got: len(got) >= 3)
        loop.cancel()  # killed mid-batch: claimed rows keep their lease, answers are never recorded
        with pytest.raises(asyncio.CancelledError):
            await loop
        assert set(receiver.ids()) < expected

        restarted = asyncio.create_task(services.webhooks.run(0.1))
        try:
            await receiver.wait_for(lambda got: expected <= {r.headers["webhook-id"] for r in got}, timeout=60)

            async def all_delivered() -> bool:
                page = await services.webhooks.deliveries(owner, webhook_id, limit=100, cursor=None)
                return len(page.rows) == 12 and all(row["status"] == "delivered" for row in page.rows)

            await eventually(all_delivered, timeout=30)
        finally:
            restarted.cancel()
    counts = Counter(receiver.ids())
    assert set(counts) == expected  # each at least once, nothing else
    for request in receiver.requests:  # every attempt, first or repeated, is signed and verifies
        Webhook(created.secret).verify(request.body, request.headers)
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests)


async def test_failures_retry_then_dead_letter_then_the_endpoint_is_disabled_and_the_owner_mailed(
    services: Services,
) -> None:
    owner = account()
    services.webhooks.disable_after = 3
    # 503 to the first three attempts, then 200 (the owner fixed the receiver): the replay arrives.
    async with WebhookReceiver(status=lambda n: 503 if n <= 3 else 200) as receiver:
        created = await services.webhooks.register(owner, url=receiver.url(), events=["file.trashed"])
        webhook_id = created.webhook["_id"]
        event_id = await trashed(services, owner)
        loop = asyncio.create_task(services.webhooks.run(0.05))
        try:

            async def dead() -> dict | None:
                page = await services.webhooks.deliveries(owner, webhook_id, limit=10, cursor=None)
                row = page.rows[0] if page.rows else None
                return row if row and row["status"] == "dead" else None

            row = await eventually(dead, timeout=30)
        finally:
            loop.cancel()
        # Three attempts (the first and the two retries of the schedule), each with its answer.
        assert row["attempts"] == 3 and row["response_code"] == 503
        assert [a["status_code"] for a in row["history"]] == [503, 503, 503]
        assert receiver.ids() == [message_id(event_id, webhook_id)] * 3
        webhook = await services.webhooks.get(owner, webhook_id)
        assert webhook["enabled"] is False and "3 delivery attempts in a row failed" in webhook["disabled_reason"]
        mails = [r async for r in services.runtime.db["notifications"].find({"account_id": owner})]
        assert [(m["kind"], m["params"]["mail"], m["params"]["webhook_id"]) for m in mails] == [
            ("webhooks", "webhook-disabled", webhook_id)
        ]
        # Turned off: an audit fact in the outbox (metadata's audit consumer records every catalogued event).
        outbox = services.runtime.db["outbox"]
        rows = await outbox.find({"headers.ce_type": WebhookDisabled.cloudevent_type()}).to_list(None)
        [event] = [decode(r["headers"], r["value"]).data for r in rows if r["key"] == owner.encode()]
        assert event.model_dump() == {
            "account_id": owner,
            "webhook_id": webhook_id,
            "failures": 3,
            "last_error": "answered 503",
        }
        assert all(b"127.0.0.1" not in r["value"] for r in rows)  # never the endpoint's URL
        # Disabled: new events queue nothing; the test event still goes (to check a fix before enabling).
        await trashed(services, owner)
        page = await services.webhooks.deliveries(owner, webhook_id, limit=10, cursor=None)
        assert len(page.rows) == 1
        replayed = await _replay_checks(services, owner, webhook_id, row["_id"], receiver)
    assert replayed["status"] == "delivered" and replayed["replays"] == 1


async def _replay_checks(
    services: Services, owner: str, webhook_id: str, dead_id: str, receiver: WebhookReceiver
) -> dict:
    """The dead letter listed and replayed: refused while the endpoint is off, then sent again
    under the same webhook-id once it is on; a second replay while pending changes nothing."""
    dead = await services.webhooks.deliveries(owner, webhook_id, limit=10, cursor=None, status="dead")
    assert [r["_id"] for r in dead.rows] == [dead_id]
    with pytest.raises(NotReplayable):
        await services.webhooks.replay(owner, webhook_id, dead_id)
    with pytest.raises(DeliveryNotFound):
        await services.webhooks.replay(owner, webhook_id, "msg_nothing")
    with pytest.raises(WebhookNotFound):
        await services.webhooks.replay(account(), webhook_id, dead_id)
    enabled = await services.webhooks.update(owner, webhook_id, enabled=True)
    assert enabled["enabled"] and enabled["consecutive_failures"] == 0
    first = await services.webhooks.replay(owner, webhook_id, dead_id)
    again = await services.webhooks.replay(owner, webhook_id, dead_id)
    assert (first["_id"], first["status"], first["attempts"]) == (dead_id, "pending", 0)
    assert (again["status"], again["replays"]) == ("pending", 1)  # idempotent: one replay
    loop = asyncio.create_task(services.webhooks.run(0.05))
    try:
        await receiver.wait_for(lambda got: len(got) >= 4)

        async def delivered() -> dict | None:
            row = await services.runtime.db["webhook_deliveries"].find_one({"_id": dead_id})
            return row if row and row["status"] == "delivered" else None

        row = await eventually(delivered, timeout=30)
    finally:
        loop.cancel()
    assert receiver.ids()[-1] == dead_id  # the same webhook-id: a receiver that had it drops it
    with pytest.raises(NotReplayable):
        await services.webhooks.replay(owner, webhook_id, dead_id)
    return row


async def test_a_test_event_is_delivered_and_the_log_pages(services: Services) -> None:
    owner = account()
    async with WebhookReceiver() as receiver:
        created = await services.webhooks.register(owner, url=receiver.url(), events=["file.trashed"])
        webhook_id = created.webhook["_id"]
        sent = await services.webhooks.send_test(owner, webhook_id)
        for _ in range(2):
            await trashed(services, owner)
        loop = asyncio.create_task(services.webhooks.run(0.05))
        try:
            got = await receiver.wait_for(lambda got: len(got) >= 3)
        finally:
            loop.cancel()
    bodies = [Webhook(created.secret).verify(r.body, r.headers) for r in got]
    assert sorted(b["type"] for b in bodies) == ["file.trashed", "file.trashed", "webhook.test"]
    assert sent["_id"] in receiver.ids()
    first = await services.webhooks.deliveries(owner, webhook_id, limit=2, cursor=None)
    assert len(first.rows) == 2 and first.next_cursor
    rest = await services.webhooks.deliveries(owner, webhook_id, limit=2, cursor=first.next_cursor)
    assert len(rest.rows) == 1 and rest.next_cursor is None
    assert {r["_id"] for r in first.rows + rest.rows} == set(receiver.ids())


async def test_the_consumer_fans_out_a_batch_of_several_accounts_and_a_redelivered_batch_queues_nothing_twice(
    isolated: dict[str, str], publisher: EventPublisher
) -> None:
    """Through Kafka: document events of three accounts, published before notify starts so its
    first poll reads them together (a batch, one read of the endpoints); two accounts have
    endpoints, for some of the types. Each wanted delivery arrives once; the same records again
    (Kafka redelivers, here after they were applied) queue nothing."""
    settings = Settings(**isolated)
    ann, bob, cy = account(), account(), account()
    async with WebhookReceiver() as receiver:
        setup = bootstrap(settings)
        await ensure_indexes(setup.runtime.db)
        try:
            hooks = {
                ann: await setup.webhooks.register(
                    ann, url=receiver.url(), events=["file.version-recorded", "file.trashed"]
                ),
                bob: await setup.webhooks.register(bob, url=receiver.url(), events=["file.modified"]),
            }
        finally:
            await setup.webhooks.client.aclose()
            await setup.runtime.mongo.close()
        records: list[KafkaRecord] = []
        wanted: set[str] = set()

        async def publish(event: Event, *, to: str | None = None) -> str:
            """Publish `event`; with `to`, the delivery it should make to that account's endpoint."""
            records.append(record := await publisher.send(event))
            if to is None:
                return ""
            delivery = message_id(record.id, hooks[to].webhook["_id"])
            wanted.add(delivery)
            return delivery

        for n in (1, 2):
            await publish(version(ann, n), to=ann)
            await publish(version(bob, n))  # bob asked for file.modified only
            await publish(version(cy, n))  # cy has no endpoint
        await publish(FileTrashed(account_id=cy, document_id="doc-1"))
        await publish(FileTrashed(account_id=ann, document_id="doc-1"), to=ann)
        await publish(modified(bob, 2), to=bob)
        await publish(modified(ann, 2))  # ann did not ask for file.modified
        await publish(modified(bob, 3), to=bob)
        assert len(wanted) == 5

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            db = app.state.services.runtime.db
            await receiver.wait_for(lambda got: wanted <= {r.headers["webhook-id"] for r in got})
            first = set(wanted)
            for record in list(records):  # redelivered, as Kafka may
                await publisher.resend(record)
            # Then one more event on each topic: once its delivery is in, the records before it
            # on its topic (one partition) were applied.
            later = {
                await publish(version(ann, 9), to=ann),
                await publish(FileTrashed(account_id=ann, document_id="doc-9"), to=ann),
                await publish(modified(bob, 9), to=bob),
            }
            await receiver.wait_for(lambda got: later <= {r.headers["webhook-id"] for r in got})

            async def settled() -> list[dict] | None:
                rows = await db["webhook_deliveries"].find({"account_id": {"$in": [ann, bob, cy]}}).to_list(None)
                return rows if all(row["status"] == "delivered" for row in rows) else None

            rows = await eventually(settled, timeout=30)
    assert wanted == first | later
    assert sorted(row["_id"] for row in rows) == sorted(wanted)  # nothing for cy, nothing not asked for
    assert all(row["attempts"] == 1 for row in rows)
    assert Counter(receiver.ids()) == Counter(wanted)  # each once: the redelivery queued nothing


def version(owner: str, n: int) -> FileVersionRecorded:
    return FileVersionRecorded(
        account_id=owner,
        document_id=f"doc-{n}",
        version=n,
        upload_id=f"up-{n}",
        bucket="bucket",
        key=f"key-{n}",
        filename=f"file-{n}.txt",
        content_type="text/plain",
        size=n,
        sha256="0" * 64,
    )


def modified(owner: str, n: int) -> FileModified:
    return FileModified(account_id=owner, document_id="doc-1", version=n, name="file-1.txt", size=n, actor_id=account())

"""The event backbone against a real Kafka-protocol broker and MongoDB-protocol server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pymongo import AsyncMongoClient

from docstore_events import Envelope, QuotaExceeded, QuotaRestored, encode
from docstore_events.topics import dead_letter_topic
from docstore_messaging.consumer import DLQ_ATTEMPTS, DLQ_ERROR, RetryPolicy
from docstore_messaging.runtime import EventRuntime
from docstore_messaging.unit_of_work import MongoUnitOfWork, Transaction

from .helpers import eventually, exceeded, produce, produce_record, read_topic

# Three partitions per topic, as in production: these tests are about keys and batches across them.
pytestmark = [pytest.mark.integration, pytest.mark.partitions(3)]

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.1)


@pytest.fixture
async def runtime_parts(isolated):
    mongo = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    yield mongo, mongo[isolated["mongodb_database"]], isolated
    await mongo.close()


Bound = tuple[Any, Any]
"""What these tests' unit of work hands out: a collection and the transaction's session."""


def bound_uow(events: EventRuntime, db: Any) -> MongoUnitOfWork[Bound]:
    return events.unit_of_work(lambda session: (db.things, session))


def make_runtime(db, isolated, service: str = "backbone") -> EventRuntime:
    return EventRuntime(
        service=service,
        region="test",
        bootstrap_servers=isolated["kafka_bootstrap_servers"],
        db=db,
        topic_prefix=isolated["kafka_topic_prefix"],
        retry=FAST_RETRY,
        relay_poll_interval=0.1,
    )


async def test_outbox_event_reaches_a_subscriber_with_its_trace(runtime_parts) -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    _, db, isolated = runtime_parts
    events = make_runtime(db, isolated)
    received: list[tuple[Envelope, str]] = []

    async def handle(envelope: Envelope) -> None:
        span = trace.get_current_span().get_span_context()
        received.append((envelope, format(span.trace_id, "032x")))

    events.subscribe(QuotaExceeded, handle)
    await events.start()
    try:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("request") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")

            async def write(tx: Transaction[Bound]) -> None:
                things, session = tx.repos
                await things.insert_one({"x": 1}, session=session)
                tx.emit(exceeded())

            await bound_uow(events, db).run(write)
            event_id = (await db.outbox.find_one({}))["_id"]
        await eventually(lambda: asyncio.sleep(0, received))
    finally:
        await events.stop()
    envelope, consumer_trace_id = received[0]
    assert envelope.id == event_id and envelope.data == exceeded()
    assert envelope.source == "/docstore/test/backbone"
    assert consumer_trace_id == trace_id  # one trace from the write to the handler
    assert await db.outbox.count_documents({"status": "published"}) == 1


async def test_redelivered_event_has_its_effect_once(runtime_parts) -> None:
    _, db, isolated = runtime_parts
    events = make_runtime(db, isolated)
    handled: list[str] = []

    async def handle(envelope: Envelope) -> None:
        handled.append(envelope.id)

        async def count(tx: Transaction[Bound]) -> None:
            _, session = tx.repos
            await db.effects.update_one({"_id": "counter"}, {"$inc": {"n": 1}}, upsert=True, session=session)

        await bound_uow(events, db).run_once(consumer="backbone", event_id=envelope.id, work=count)

    events.subscribe(QuotaExceeded, handle)
    await events.start()
    try:
        record = encode(exceeded(), source="test", topic_prefix=isolated["kafka_topic_prefix"])
        for _ in range(3):  # the same event id, three times, as a broker redelivery would
            await produce_record(isolated["kafka_bootstrap_servers"], record)
        await eventually(lambda: asyncio.sleep(0, len(handled) >= 3))
    finally:
        await events.stop()
    assert (await db.effects.find_one({"_id": "counter"}))["n"] == 1


async def test_bad_messages_go_to_the_dead_letter_topic_and_the_consumer_goes_on(runtime_parts) -> None:
    _, db, isolated = runtime_parts
    bootstrap, prefix = isolated["kafka_bootstrap_servers"], isolated["kafka_topic_prefix"]
    events = make_runtime(db, isolated)
    handled: list[Envelope] = []

    async def handle_exceeded(envelope: Envelope) -> None:
        handled.append(envelope)

    async def always_fails(envelope: Envelope) -> None:
        raise ValueError("cannot handle this one")

    events.subscribe(QuotaExceeded, handle_exceeded)
    events.subscribe(QuotaRestored, always_fails)
    await events.start()
    topic = QuotaExceeded.topic(prefix)
    try:
        await produce(bootstrap, topic, b"garbage", {"some": "header"})
        wrong_type = encode(exceeded(), source="t")
        await produce(bootstrap, topic, wrong_type.value, {**wrong_type.headers, "ce_type": "docstore.made.up"})
        await produce_record(
            bootstrap,
            encode(
                QuotaRestored(account_id="a", used_bytes=0, cap_bytes=1, plan="free"), source="t", topic_prefix=prefix
            ),
        )
        good = encode(exceeded("after-the-bad-ones"), source="t", topic_prefix=prefix)
        await produce_record(bootstrap, good)
        await eventually(lambda: asyncio.sleep(0, handled))
        # Read while the consumer still runs: the good event's key puts it on another partition
        # than the bad ones', and partitions are consumed side by side, so it may be handled
        # before the bad ones are dead-lettered (stopping then left one for the group's next member).
        dead = await read_topic(bootstrap, dead_letter_topic(topic), expect=2)
        failed = await read_topic(bootstrap, dead_letter_topic(QuotaRestored.topic(prefix)), expect=1)
    finally:
        await events.stop()
    assert [e.data.account_id for e in handled] == ["after-the-bad-ones"]

    errors = sorted(headers[DLQ_ERROR] for headers, _ in dead)
    assert len(dead) == 2
    assert "not a CloudEvent: missing headers" in errors[0]
    assert "unknown event type 'docstore.made.up'" in errors[1]
    assert dead[0][1] in (b"garbage", wrong_type.value)  # the original bytes are kept for replay

    assert len(failed) == 1
    assert "ValueError: cannot handle this one" in failed[0][0][DLQ_ERROR]
    assert failed[0][0][DLQ_ATTEMPTS] == str(FAST_RETRY.max_attempts)


def run_relay(isolated, account_id: str, *, write: bool, crash_at: str | None, marker: Path) -> int:
    env = {**os.environ, "DOCSTORE_CRASH_MARKER": str(marker)}
    if crash_at:
        env["DOCSTORE_CRASH_AT"] = crash_at
    args = [
        sys.executable,
        str(Path(__file__).with_name("relay_process.py")),
        isolated["kafka_bootstrap_servers"],
        isolated["mongodb_url"],
        isolated["mongodb_database"],
        isolated["kafka_topic_prefix"],
        account_id,
    ]
    return subprocess.run(args + (["--write"] if write else []), env=env, capture_output=True, timeout=90).returncode


@pytest.mark.parametrize("crash_at", ["outbox.before_publish", "outbox.after_publish"])
async def test_relay_killed_mid_publish_loses_nothing(isolated, tmp_path, crash_at: str) -> None:
    account_id = f"acct-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "crashed"
    first = await asyncio.to_thread(run_relay, isolated, account_id, write=True, crash_at=crash_at, marker=marker)
    assert first == 137 and marker.exists()  # died at that line, after the transaction committed
    second = await asyncio.to_thread(run_relay, isolated, account_id, write=False, crash_at=crash_at, marker=marker)
    assert second == 0

    messages = await read_topic(
        isolated["kafka_bootstrap_servers"], QuotaExceeded.topic(isolated["kafka_topic_prefix"]), expect=1
    )
    ids = [headers["ce_id"] for headers, _ in messages]
    assert len(set(ids)) == 1  # the event arrived
    # Killed before the publish: sent once. Killed after it: sent again with the same id,
    # which idempotent consumers absorb (see test_redelivered_event_has_its_effect_once).
    assert len(ids) == (1 if crash_at == "outbox.before_publish" else 2)

"""Raw subscriptions and the dead-letter browser against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio

import pytest

from docstore_devplatform import probes
from docstore_events import Envelope, QuotaExceeded, encode
from docstore_events.topics import dead_letter_topic
from docstore_messaging.consumer import DLQ_ATTEMPTS, RawMessage, RetryPolicy
from docstore_messaging.dead_letters import DeadLetters, InvalidCursor, NotFound
from docstore_messaging.runtime import EventRuntime

from .helpers import eventually, exceeded, produce, produce_record

# Three partitions per topic, as in production: these tests are about keys and batches across them.
pytestmark = [pytest.mark.integration, pytest.mark.partitions(3)]

FAST_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.05, max_backoff=0.1)


async def test_a_raw_topic_shares_the_runtime_consumer_and_its_dead_letters_replay(db, isolated) -> None:
    bootstrap, prefix = isolated["kafka_bootstrap_servers"], isolated["kafka_topic_prefix"]
    # Another system's topic: not created by all_topics(); named under the test's prefix only
    # so that the browser (which lists `<prefix>docstore.*.dlq`) sees its dead letters.
    raw_topic = f"{prefix}docstore.store-notifications"
    await asyncio.to_thread(probes.create_topics, bootstrap, [raw_topic, dead_letter_topic(raw_topic)])
    events = EventRuntime(
        service="backbone",
        region="test",
        bootstrap_servers=bootstrap,
        db=db,
        topic_prefix=prefix,
        retry=FAST_RETRY,
        relay_poll_interval=0.1,
    )
    letters = DeadLetters(bootstrap, prefix, publish=events.publish)
    handled: list[Envelope] = []
    raw_seen: list[RawMessage] = []
    broken = True

    async def handle(envelope: Envelope) -> None:
        handled.append(envelope)

    async def handle_raw(message: RawMessage) -> None:
        raw_seen.append(message)
        if broken:
            raise RuntimeError("store notification not understood")

    events.subscribe(QuotaExceeded, handle)
    events.subscribe_raw(raw_topic, handle_raw)
    await events.start()
    try:
        with pytest.raises(RuntimeError, match="after start"):
            events.subscribe_raw(f"{raw_topic}-late", handle_raw)
        await produce(bootstrap, raw_topic, b"\x0a\x02hi", {}, key=b"/buckets/b/k")
        await produce_record(bootstrap, encode(exceeded("alongside"), source="t", topic_prefix=prefix))
        await eventually(lambda: asyncio.sleep(0, handled))  # the CloudEvents side runs meanwhile

        async def dead() -> list:
            return (await letters.page(limit=10, topic=dead_letter_topic(raw_topic)))[0]

        [letter] = await eventually(dead)
        assert (letter.original_topic, letter.consumer) == (raw_topic, "backbone")
        assert "RuntimeError: store notification not understood" in letter.error
        assert letter.headers[DLQ_ATTEMPTS] == str(FAST_RETRY.max_attempts)
        assert len(raw_seen) == FAST_RETRY.max_attempts  # retried in place first

        broken = False  # the cause is fixed: replay
        record = await letters.replay(letter.topic, letter.partition, letter.offset)
        assert record.topic == raw_topic and not any(k.startswith("x-dlq-") for k in record.headers)
        await eventually(lambda: asyncio.sleep(0, len(raw_seen) > FAST_RETRY.max_attempts))
    finally:
        await events.stop()
    replayed = raw_seen[-1]
    assert (replayed.topic, replayed.key, replayed.value) == (raw_topic, b"/buckets/b/k", b"\x0a\x02hi")
    assert [e.data.account_id for e in handled] == ["alongside"]


async def test_dead_letters_page_oldest_first_and_unknown_positions_are_not_found(isolated) -> None:
    bootstrap, prefix = isolated["kafka_bootstrap_servers"], isolated["kafka_topic_prefix"]
    dlq = dead_letter_topic(QuotaExceeded.topic(prefix))
    sent = [encode(exceeded(f"a{n}"), source="t", topic_prefix=prefix) for n in range(3)]
    for record in sent:  # one key: one partition, in this order
        await produce(bootstrap, dlq, record.value, record.headers, key=b"same")
    letters = DeadLetters(bootstrap, prefix)

    async def listed() -> tuple:
        first = await letters.page(limit=2)
        return first if first[1] else None

    first, cursor = await eventually(listed)
    second, last = await letters.page(limit=2, cursor=cursor)
    assert last is None
    found = first + second
    assert [f.headers["ce_id"] for f in found] == [r.headers["ce_id"] for r in sent]
    assert len({f.partition for f in found}) == 1 and [f.offset for f in found] == sorted(f.offset for f in found)
    assert all(f.original_topic == QuotaExceeded.topic(prefix) for f in found)  # no header: from the name
    assert (await letters.get(dlq, found[1].partition, found[1].offset)).headers["ce_id"] == sent[1].headers["ce_id"]

    assert await letters.page(limit=5, topic=f"{prefix}docstore.nothing.dlq") == ([], None)
    with pytest.raises(InvalidCursor):
        await letters.page(limit=2, cursor="W10")
    for position in [(dlq, found[0].partition, 99999), (dlq, 99, 0), (QuotaExceeded.topic(prefix), 0, 0)]:
        with pytest.raises(NotFound):
            await letters.get(*position)

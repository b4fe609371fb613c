"""The dead-letter browser's pure parts: cursors, what a listing shows, what a replay sends;
and the runtime's raw-subscription bookkeeping. The broker side is in
tests/integration/test_dead_letters.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import pytest

from docstore_events.envelope import KafkaRecord
from docstore_messaging.consumer import DLQ_ATTEMPTS, DLQ_ERROR, DLQ_ORIGINAL_TOPIC
from docstore_messaging.dead_letters import DeadLetter, DeadLetters, InvalidCursor, decode_cursor, encode_cursor
from docstore_messaging.runtime import EventRuntime


def letter(**changes: object) -> DeadLetter:
    fields: dict[str, Any] = {
        "topic": "r.docstore.upload.completed.dlq",
        "partition": 2,
        "offset": 7,
        "original_topic": "r.docstore.upload.completed",
        "consumer": "quota",
        "error": "RuntimeError: boom",
        "failed_at": "2026-01-01T00:00:00+00:00",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "key": b"acct",
        "value": b"{}",
        "headers": {
            "ce_id": "e1",
            "ce_type": "docstore.upload.completed",
            DLQ_ERROR: "RuntimeError: boom",
            DLQ_ORIGINAL_TOPIC: "r.docstore.upload.completed",
            "X-DLQ-Attempts": "5",
        },
    }
    return DeadLetter(**{**fields, **changes})


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    position = ("r.docstore.files.deleted.dlq", 1, 41)
    assert decode_cursor(encode_cursor(position)) == position
    for forged in ("not-base64!", encode_cursor(("only", 2)), "W10"):  # "W10" is "[]"
        with pytest.raises(InvalidCursor):
            decode_cursor(forged)


def test_a_listing_shows_where_and_why_but_not_the_payload() -> None:
    summary = letter().summary()
    assert summary["id"] == "r.docstore.upload.completed.dlq:2:7" == letter().id
    assert summary["event_id"] == "e1" and summary["event_type"] == "docstore.upload.completed"
    assert summary["original_topic"] == "r.docstore.upload.completed" and summary["consumer"] == "quota"
    assert "value" not in summary and "key" not in summary


def test_a_replay_sends_the_original_message_without_the_dead_letter_headers() -> None:
    record = letter().replay_record()
    assert record == KafkaRecord(
        topic="r.docstore.upload.completed",
        key=b"acct",
        value=b"{}",
        headers={"ce_id": "e1", "ce_type": "docstore.upload.completed"},  # x-dlq-* dropped, any case
    )
    assert letter(key=None, value=None).replay_record().key == b""


async def test_a_browser_without_a_publisher_refuses_to_replay() -> None:
    with pytest.raises(RuntimeError, match="without `publish`"):
        await DeadLetters("localhost:1", "r.").replay("r.docstore.x.dlq", 0, 0)


def test_a_raw_topic_takes_one_handler() -> None:
    events = EventRuntime(service="svc", region="r", bootstrap_servers="localhost:1", db=MagicMock())

    async def handle(message: object) -> None:
        return None

    events.subscribe_raw("store.events", handle)
    with pytest.raises(ValueError, match="already has a handler"):
        events.subscribe_raw("store.events", handle)
    assert DLQ_ATTEMPTS.startswith("x-dlq-")  # so replays strip it with the others

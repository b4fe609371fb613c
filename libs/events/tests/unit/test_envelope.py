"""The envelope is CloudEvents 1.0 binary mode: the official SDK reads what we write."""

from __future__ import annotations

import json
import re

import pytest
from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import KafkaMessage, from_binary, to_binary

from docstore_events import EVENT_TYPES, AccountCreated, UndecodableEvent, UploadCompleted, decode, encode


def completed(**overrides) -> UploadCompleted:
    fields = dict(
        account_id="acct-1",
        upload_id="up-1",
        document_id="doc-1",
        bucket="b",
        key="k",
        filename="a.pdf",
        content_type="application/pdf",
        size=10,
        etag="e",
        sha256="s",
    )
    return UploadCompleted(**{**fields, **overrides})


def test_sdk_reads_our_binary_record() -> None:
    record = encode(
        completed(),
        source="/docstore/us-west-2/upload",
        subject="doc-1",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    message = KafkaMessage(
        headers={k: v.encode() for k, v in record.headers.items()}, key=record.key, value=record.value
    )

    event = from_binary(message)

    assert event["specversion"] == "1.0"
    assert event["type"] == "docstore.upload.completed"
    assert event["source"] == "/docstore/us-west-2/upload"
    assert event["subject"] == "doc-1"
    assert event["datacontenttype"] == "application/json"
    assert event["dataschema"] == "urn:docstore:event:upload.completed:v1"
    assert event["partitionkey"] == b"acct-1"
    assert event.get_data()["size"] == 10
    assert record.topic == "docstore.upload.completed"


def test_we_read_what_the_sdk_writes() -> None:
    attributes = {
        "type": "docstore.account.created",
        "source": "/elsewhere",
        "id": "evt-9",
        "datacontenttype": "application/json",
    }
    data = {
        "account_id": "a",
        "username": "ada",
        "email": "ada@example.com",
        "plan": "free",
        "home_region": "us-west-2",
    }
    message = to_binary(CloudEvent(attributes, data))

    envelope = decode({k: v.decode() for k, v in message.headers.items()}, message.value)

    assert envelope.id == "evt-9"
    assert isinstance(envelope.data, AccountCreated)
    assert envelope.data.username == "ada"


def test_round_trip_keeps_id_and_trace() -> None:
    record = encode(completed(), source="s", event_id="fixed", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    envelope = decode(record.headers, record.value)
    assert envelope.id == "fixed"
    assert envelope.traceparent.startswith("00-111")
    assert envelope.data == completed()


def test_unknown_fields_are_ignored_so_schemas_can_grow() -> None:
    record = encode(completed(), source="s")
    payload = json.loads(record.value) | {"added_later": True}
    assert decode(record.headers, json.dumps(payload).encode()).data == completed()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, v: ({k: x for k, x in h.items() if k != "ce_id"}, v), "missing headers ce_id"),
        (lambda h, v: ({**h, "ce_type": "docstore.nothing.happened"}, v), "unknown event type"),
        (lambda h, v: ({**h, "ce_type": "com.other.thing"}, v), "unknown event type"),
        (lambda h, v: (h, b"{not json"), "invalid docstore.upload.completed data"),
        (lambda h, v: (h, b'{"account_id": "a"}'), "invalid docstore.upload.completed data"),
        (lambda h, v: ({**h, "ce_specversion": "0.3"}, v), "unsupported CloudEvents specversion"),
    ],
)
def test_undecodable_messages_say_why(change, message: str) -> None:
    record = encode(completed(), source="s")
    headers, value = change(dict(record.headers), record.value)
    with pytest.raises(UndecodableEvent, match=message):
        decode(headers, value)


def test_every_event_is_documented_past_tense_and_topical() -> None:
    # `import docstore_events` imports the catalogue: every module's events are registered.
    for event_type, event_class in EVENT_TYPES.items():
        assert event_class.__doc__ and "Emitted by" in event_class.__doc__, event_class
        assert event_class.topic() == f"docstore.{event_type}"
        # Past tense: regular, irregular (ReconciliationRan) or phrasal (AccountLoggedIn).
        assert re.search(r"(ed|Ran|Sent|Made|Began)(In|Out|Up)?$", event_class.__name__), event_class


def test_no_event_carries_a_password_or_hash() -> None:
    for event_class in EVENT_TYPES.values():
        for field in event_class.model_fields:
            assert not any(word in field for word in ("password", "hash", "secret", "token")), (event_class, field)

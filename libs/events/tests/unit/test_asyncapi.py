"""The AsyncAPI document lists every event class on its topic, with its payload schema and the
envelope headers real records carry, is valid AsyncAPI 3.0, and the committed copy is current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

from docstore_events import asyncapi
from docstore_events.accounts import AccountCreated
from docstore_events.base import EVENT_TYPES
from docstore_events.catalogue import find_events
from docstore_events.envelope import encode
from docstore_events.topics import all_topics

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_every_event_class_has_its_channel_message_and_payload() -> None:
    document = asyncapi.document()
    events = find_events()
    assert len(events) >= 20 and {cls.type for cls in events} == set(EVENT_TYPES) - {
        t for t, cls in EVENT_TYPES.items() if not cls.__module__.startswith("docstore_events.")
    }
    for cls in events:
        channel = document["channels"][cls.type]
        assert channel["address"] == "{prefix}" + cls.topic()
        assert list(channel["messages"]) == [cls.__name__]
        message = document["components"]["messages"][cls.__name__]
        assert message["payload"] == {"$ref": f"#/components/schemas/{cls.__name__}"}
        payload = document["components"]["schemas"][cls.__name__]
        assert set(payload["properties"]) == set(cls.model_fields)
        assert message["headers"]["properties"]["ce_type"] == {"const": cls.cloudevent_type()}
        assert "traceparent" in message["headers"]["properties"]
        assert document["operations"][f"send.{cls.type}"]["channel"] == {"$ref": f"#/channels/{cls.type}"}
    # Every topic the platform creates (topics.py, dead-letter topics included) is a channel, and no other.
    addresses = {channel["address"].removeprefix("{prefix}") for channel in document["channels"].values()}
    assert addresses == set(all_topics())


def test_a_real_record_matches_its_message() -> None:
    document = asyncapi.document()
    event = AccountCreated(account_id="acc-1", username="ada", email="ada@example.com", plan="free", home_region="eu")
    record = encode(event, source="metadata/eu", subject="acc-1", traceparent=TRACEPARENT)
    message = document["components"]["messages"]["AccountCreated"]
    jsonschema_rs.validate(message["headers"], record.headers)
    # The payload schema, its $refs resolved against the document's schemas.
    schemas = json.loads(json.dumps(document["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    payload = {"$ref": "#/$defs/AccountCreated", "$defs": schemas}
    jsonschema_rs.validate(payload, json.loads(record.value))
    assert not jsonschema_rs.is_valid(message["headers"], {**record.headers, "traceparent": "not-a-trace"})


def test_the_document_is_valid_asyncapi_3() -> None:
    parsed = ApplicationSchema.model_validate(asyncapi.document())
    assert parsed.asyncapi == "3.0.0" and parsed.channels


def test_the_committed_document_is_current(tmp_path: Path) -> None:
    assert asyncapi.main(["--check"]) == 0, f"docs/asyncapi.json is out of date: run `{asyncapi.REGENERATE}`"
    stale = tmp_path / "asyncapi.json"
    stale.write_text(asyncapi.render().replace("account.created", "account.made"), encoding="utf-8")
    assert asyncapi.main(["--check", "--path", str(stale)]) == 1
    assert asyncapi.main(["--write", "--path", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == asyncapi.render()

"""The AsyncAPI 3.0 document of every DocStore event, generated from this package.

`python -m docstore_events.asyncapi` prints it (JSON); `--write` puts it in `docs/asyncapi.json`;
`--check` exits 1 when that file is out of date. The gateway serves the same document at
`/asyncapi`.

The events are found as the catalogue finds them (`catalogue.find_events`): one channel per
event type on its topic (`Event.topic`), and one on its dead-letter topic; one message per event
whose payload is the pydantic model's JSON Schema and whose headers are the CloudEvents
binary-mode envelope (`envelope.encode`) with the W3C `traceparent`.

Why not FastStream's generator: it describes the subscribers and publishers declared on a
FastStream broker, and DocStore's producers write through the outbox while each service's
consumer subscribes to its topics at run time, so a FastStream document would list none of the
event types, nor the envelope headers. Built from the event classes, this one lists all of them
and cannot drift from them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docstore_events.base import TOPIC_ROOT, Event
from docstore_events.catalogue import default_document, find_events, first_paragraph
from docstore_events.envelope import CONTENT_TYPE
from docstore_events.topics import dead_letter_topic

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT = Path("docs") / "asyncapi.json"
REGENERATE = "uv run python -m docstore_events.asyncapi --write"
TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
PREFIX_PARAMETER = {"description": "`KAFKA_TOPIC_PREFIX` of the deployment (e.g. `ap-southeast-2.`); empty by default"}


def channel_address(event: type[Event]) -> str:
    """The channel address of `event`: its topic behind the deployment's `{prefix}`."""
    return "{prefix}" + event.topic()


def envelope_headers(event: type[Event]) -> dict[str, Any]:
    """The Kafka headers every record of `event` carries (`envelope.encode`), as a JSON Schema."""
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_dataschema", "content-type"],
        "properties": {
            "ce_specversion": {"const": "1.0", "description": "CloudEvents version"},
            "ce_id": {"type": "string", "description": "unique per event; consumers deduplicate on it"},
            "ce_source": {"type": "string", "description": "the emitting service and region"},
            "ce_type": {"const": event.cloudevent_type()},
            "ce_time": {"type": "string", "format": "date-time", "description": "when the fact happened"},
            "ce_dataschema": {"const": event.dataschema()},
            "ce_subject": {"type": "string", "description": "what the event is about, when it names one thing"},
            "content-type": {"const": CONTENT_TYPE},
            "traceparent": {
                "type": "string",
                "pattern": TRACEPARENT,
                "description": "W3C trace context of the span that emitted the event; consumers continue it",
            },
        },
    }


def _payload(event: type[Event], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = event.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[event.__name__] = schema
    return {"$ref": f"#/components/schemas/{event.__name__}"}


def document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document, as a JSON-ready dict (deterministic: sorted by type)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event in find_events():
        name = event.__name__
        messages[name] = {
            "name": event.cloudevent_type(),
            "title": name,
            "summary": first_paragraph(event) or event.type,
            "contentType": CONTENT_TYPE,
            "headers": envelope_headers(event),
            "payload": _payload(event, schemas),
            "correlationId": {"location": "$message.header#/ce_id"},
            "bindings": {
                "kafka": {"key": {"type": "string", "description": "the account id: its events stay in order"}}
            },
        }
        message = {"$ref": f"#/components/messages/{name}"}
        dead_letters = f"{event.type}.dlq"
        channels[event.type] = {
            "address": channel_address(event),
            "title": event.topic(),
            "description": f"`{name}` events, schema v{event.schema_version}.",
            "parameters": {"prefix": PREFIX_PARAMETER},
            "messages": {name: message},
        }
        channels[dead_letters] = {
            "address": "{prefix}" + dead_letter_topic(event.topic()),
            "title": dead_letter_topic(event.topic()),
            "description": f"`{name}` records a consumer gave up on, with the failure in extra headers.",
            "parameters": {"prefix": PREFIX_PARAMETER},
            "messages": {name: message},
        }
        operations[f"send.{event.type}"] = {
            "action": "send",
            "title": f"Publish {event.type}",
            "channel": {"$ref": f"#/channels/{event.type}"},
            "messages": [{"$ref": f"#/channels/{event.type}/messages/{name}"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "DocStore events",
            "version": "1",
            "description": "Every fact DocStore publishes on Kafka, as CloudEvents 1.0 in binary content mode "
            f"(attributes in `ce_*` headers, the data as the JSON value, the account id as the key). Topics are "
            f"`{TOPIC_ROOT}.<type>` behind the deployment's prefix; each has a dead-letter topic `<topic>.dlq`. "
            f"Generated from `libs/events` by `{REGENERATE}`.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    """The document as the committed file holds it: indented JSON ending in one newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def default_path() -> Path:
    """`docs/asyncapi.json` of the repository (found as the catalogue finds its document)."""
    return default_document().parent / DOCUMENT.name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {DOCUMENT}")
    action.add_argument("--check", action="store_true", help=f"exit 1 if {DOCUMENT} is out of date")
    parser.add_argument("--path", type=Path, help=f"default: {DOCUMENT} of this repository")
    args = parser.parse_args(argv)
    text = render()
    if not (args.write or args.check):
        sys.stdout.write(text)
        return 0
    path = args.path or default_path()
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if args.check:
        if current != text:
            print(f"{path}: the AsyncAPI document is out of date; run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        path.write_text(text, encoding="utf-8")
        print(f"{path}: AsyncAPI document updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

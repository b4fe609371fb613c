"""CloudEvents 1.0 envelope in Kafka binary content mode.

Attributes travel as `ce_*` headers, `datacontenttype` as the `content-type` header,
the event's data as the JSON value, and the account id as the key. Any CloudEvents
consumer can read the stream; W3C trace context travels in `traceparent`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import ValidationError

from docstore_events.base import EVENT_TYPES, TOPIC_ROOT, Event

E = TypeVar("E", bound=Event)

CONTENT_TYPE = "application/json"
_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type")


class UndecodableEvent(Exception):
    """A message that is not a DocStore CloudEvent we can read. It goes to the DLQ."""


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on the wire: topic, key, value and string headers."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]

    @property
    def id(self) -> str:
        """The CloudEvents id the record carries."""
        return self.headers["ce_id"]


@dataclass(frozen=True)
class Envelope(Generic[E]):
    """A decoded CloudEvent carrying a DocStore event."""

    id: str
    source: str
    time: datetime
    data: E
    subject: str | None = None
    traceparent: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.data.cloudevent_type()


def encode(
    event: Event,
    *,
    source: str,
    topic_prefix: str = "",
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> KafkaRecord:
    """Wrap `event` as a binary-mode CloudEvent record for its topic."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_source": source,
        "ce_type": event.cloudevent_type(),
        "ce_time": (time or datetime.now(UTC)).isoformat(),
        "ce_dataschema": event.dataschema(),
        "content-type": CONTENT_TYPE,
    }
    if subject:
        headers["ce_subject"] = subject
    if traceparent:
        headers["traceparent"] = traceparent
    return KafkaRecord(
        topic=event.topic(topic_prefix),
        key=event.account_id.encode(),
        value=event.model_dump_json().encode(),
        headers=headers,
    )


def headers_to_dict(raw_headers: Iterable[tuple[str, bytes | str | None]] | None) -> dict[str, str]:
    """Kafka headers (a sequence of (name, bytes) pairs) as a dict of strings."""
    result: dict[str, str] = {}
    for name, value in raw_headers or ():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        result[name] = "" if value is None else str(value)
    return result


def decode(headers: dict[str, str], value: bytes | None) -> Envelope[Event]:
    """Read a binary-mode CloudEvent into its DocStore event; `UndecodableEvent` if we can't."""
    missing = [name for name in _REQUIRED if not headers.get(name)]
    if missing:
        raise UndecodableEvent(f"not a CloudEvent: missing headers {', '.join(missing)}")
    if headers["ce_specversion"] != "1.0":
        raise UndecodableEvent(f"unsupported CloudEvents specversion {headers['ce_specversion']!r}")
    ce_type = headers["ce_type"]
    prefix = f"{TOPIC_ROOT}."
    event_class = EVENT_TYPES.get(ce_type.removeprefix(prefix)) if ce_type.startswith(prefix) else None
    if event_class is None:
        raise UndecodableEvent(f"unknown event type {ce_type!r}")
    try:
        payload = json.loads(value or b"")
        data = event_class.model_validate(payload)
    except (ValueError, ValidationError) as error:
        raise UndecodableEvent(f"invalid {ce_type} data: {error}") from error
    try:
        time = datetime.fromisoformat(headers["ce_time"]) if headers.get("ce_time") else datetime.now(UTC)
    except ValueError as error:
        raise UndecodableEvent(f"invalid ce_time {headers['ce_time']!r}") from error
    known = set(_REQUIRED) | {"ce_time", "ce_subject", "content-type", "traceparent"}
    return Envelope(
        id=headers["ce_id"],
        source=headers["ce_source"],
        time=time,
        data=data,
        subject=headers.get("ce_subject"),
        traceparent=headers.get("traceparent"),
        extra_headers={k: v for k, v in headers.items() if k not in known},
    )

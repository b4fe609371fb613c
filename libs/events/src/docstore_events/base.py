"""The base every DocStore event derives from, and the registry of event types."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

TOPIC_ROOT = "docstore"

EVENT_TYPES: dict[str, type[Event]] = {}
"""Every event class by its `type` ("upload.completed"), filled as the classes are defined."""


class Event(BaseModel):
    """A fact that already happened, named in the past tense.

    Subclasses set `type` (dotted, e.g. "upload.completed") and `schema_version`. Schemas only
    grow: a new optional field is fine, a removed or retyped field is a new event type.
    Unknown fields are ignored so an older consumer reads a newer producer's events.
    Every event is about one account; its id is the Kafka key, so one account's events
    stay in order.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    account_id: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("type")
        if isinstance(event_type, str):
            if event_type in EVENT_TYPES:
                raise TypeError(f"event type {event_type!r} is defined twice")
            EVENT_TYPES[event_type] = cls

    @classmethod
    def topic(cls, prefix: str = "") -> str:
        """The Kafka topic of this event type, e.g. `docstore.upload.completed`."""
        return f"{prefix}{TOPIC_ROOT}.{cls.type}"

    @classmethod
    def cloudevent_type(cls) -> str:
        """The CloudEvents `type` attribute, e.g. `docstore.upload.completed`."""
        return f"{TOPIC_ROOT}.{cls.type}"

    @classmethod
    def dataschema(cls) -> str:
        """The CloudEvents `dataschema`: names the type and its schema version."""
        return f"urn:docstore:event:{cls.type}:v{cls.schema_version}"

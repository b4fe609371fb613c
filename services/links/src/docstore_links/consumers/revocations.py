"""The links service's subscriber (group `links`): the events that end a link's right
(`service_layer/revocations.py`), one at a time, each applied once; the runtime's subscriber acks
after the handler (NACK on error: retried, then dead-lettered)."""

from __future__ import annotations

from typing import Any

from docstore_events import Envelope
from docstore_links.service_layer.revocations import ENDING, Revocations
from docstore_messaging.runtime import EventRuntime


def register(events: EventRuntime, revocations: Revocations) -> None:
    async def handle(envelope: Envelope[Any]) -> None:
        await revocations.apply_once(envelope.id, envelope.data)

    for event_class in ENDING:
        events.subscribe(event_class, handle)

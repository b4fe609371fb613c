"""Metadata's subscriber to the indexer's preview outcomes: `document.preview-ready` and
`document.preview-failed`, and their batches (`document.batch-previews`), in batches, each event
recorded once (`Previews.record_outcomes_once`).

Ack policy: the batch consumer's (`docstore_messaging.batches`): offsets are committed after the
batch's transaction with its processed-event records committed, so at least once, applied
exactly once; a batch that cannot be applied is split and its bad event goes to the dead letters.
"""

from __future__ import annotations

from typing import Any

from docstore_events import Envelope
from docstore_events.previews import DocumentPreviewFailed, DocumentPreviewReady, DocumentPreviewsRecorded
from docstore_messaging.runtime import EventRuntime
from docstore_metadata.service_layer.previews import Previews


def register_previews(events: EventRuntime, previews: Previews) -> None:
    """Subscribe `previews` to both outcome events (before the runtime starts)."""

    async def outcomes(envelopes: list[Envelope[Any]]) -> None:
        await previews.record_outcomes_once([(envelope.id, envelope.data) for envelope in envelopes])

    events.subscribe_batch(outcomes, DocumentPreviewReady, DocumentPreviewFailed, DocumentPreviewsRecorded)

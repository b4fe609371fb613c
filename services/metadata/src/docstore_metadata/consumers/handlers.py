"""Event subscribers of metadata, in batches, each event recorded exactly once: completed
uploads, and the indexer's outcomes (a document's full-text state)."""

from __future__ import annotations

from typing import Any

from docstore_events import DocumentIndexed, DocumentIndexFailed, DocumentsIndexed, Envelope, UploadCompleted
from docstore_messaging.runtime import EventRuntime
from docstore_metadata.service_layer.documents import Documents


def register(events: EventRuntime, documents: Documents) -> None:
    async def uploads_completed(envelopes: list[Envelope[Any]]) -> None:
        # In partition order: uploads of one document (one key) are recorded in the order sent.
        await documents.record_uploads_once([(envelope.id, envelope.data) for envelope in envelopes])

    events.subscribe_batch(uploads_completed, UploadCompleted)

    async def index_outcomes(envelopes: list[Envelope[Any]]) -> None:
        await documents.record_index_outcomes_once([(envelope.id, envelope.data) for envelope in envelopes])

    events.subscribe_batch(index_outcomes, DocumentIndexed, DocumentIndexFailed, DocumentsIndexed)

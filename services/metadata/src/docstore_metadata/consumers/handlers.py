"""Event subscribers of metadata: completed uploads, in batches, each recorded exactly once."""

from __future__ import annotations

from typing import Any

from docstore_events import Envelope, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_metadata.service_layer.documents import Documents


def register(events: EventRuntime, documents: Documents) -> None:
    async def uploads_completed(envelopes: list[Envelope[Any]]) -> None:
        # In partition order: uploads of one document (one key) are recorded in the order sent.
        await documents.record_uploads_once([(envelope.id, envelope.data) for envelope in envelopes])

    events.subscribe_batch(uploads_completed, UploadCompleted)

"""Event subscribers of metadata: decode, then one use case, exactly once."""

from __future__ import annotations

from docstore_events import Envelope, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_metadata.service_layer.documents import Documents


def register(events: EventRuntime, documents: Documents) -> None:
    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        await documents.record_upload_once(envelope.id, envelope.data)

    events.subscribe(UploadCompleted, upload_completed)

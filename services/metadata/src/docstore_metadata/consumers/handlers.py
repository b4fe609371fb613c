"""Event subscribers of metadata: decode, then one domain call, exactly once."""

from __future__ import annotations

from docstore_events import Envelope, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_metadata.domain.service import Metadata


def register(events: EventRuntime, metadata: Metadata) -> None:
    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        await events.apply_once(envelope, lambda session: metadata.record_upload(envelope.data, session))

    events.subscribe(UploadCompleted, upload_completed)

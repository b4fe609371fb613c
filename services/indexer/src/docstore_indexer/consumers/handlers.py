"""Event subscribers: decode, then one domain call, applied exactly once."""

from __future__ import annotations

from docstore_events import AccountCreated, AccountPlanChanged, Envelope, FileDeleted, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_indexer.domain.indexing import Indexer


def register(events: EventRuntime, indexer: Indexer) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: indexer.record_plan(event.account_id, event.plan, envelope.time, s))

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: indexer.record_plan(event.account_id, event.new_plan, envelope.time, s)
        )

    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        effect = await indexer.prepare_upload(envelope.data, envelope.time)
        if effect is not None:
            await events.apply_once(envelope, effect)

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        event = envelope.data
        if event.whole_document:
            await events.apply_once(envelope, lambda s: indexer.forget_document(event.account_id, event.document_id, s))

    events.subscribe(AccountCreated, account_created)
    events.subscribe(AccountPlanChanged, plan_changed)
    events.subscribe(UploadCompleted, upload_completed)
    events.subscribe(FileDeleted, file_deleted)

"""Event subscribers: decode, then one use case, applied once per event id.

Each handler is bounded: the only slow one, `file.version-recorded`, extracts under the
per-document time limit before its transaction. Nothing here waits for another event:
facts that arrive early are stored in the catalog and resolved when the rest arrives.
"""

from __future__ import annotations

from docstore_events import (
    AccountCreated,
    AccountPlanChanged,
    Envelope,
    FileDeleted,
    FileDetailsChanged,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
)
from docstore_events.runtime import EventRuntime
from docstore_indexer.domain.plans import PREMIUM
from docstore_indexer.service_layer.indexing import Indexing
from docstore_indexer.service_layer.plans import Plans


def register(events: EventRuntime, plans: Plans, indexing: Indexing) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        await plans.record_plan(event.account_id, event.plan, as_of=envelope.time, event_id=envelope.id)

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        event = envelope.data
        upgrade = event.new_plan == PREMIUM and event.old_plan != PREMIUM
        await plans.record_plan(
            event.account_id, event.new_plan, as_of=envelope.time, event_id=envelope.id, upgrade=upgrade
        )

    async def version_recorded(envelope: Envelope[FileVersionRecorded]) -> None:
        await indexing.record_upload(envelope.data, at=envelope.time, event_id=envelope.id)

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        event = envelope.data
        if event.whole_document:
            await indexing.forget_document(event.account_id, event.document_id, at=envelope.time, event_id=envelope.id)

    async def file_trashed(envelope: Envelope[FileTrashed]) -> None:
        event = envelope.data
        await indexing.set_trashed(
            event.account_id, event.document_id, trashed=True, at=envelope.time, event_id=envelope.id
        )

    async def file_restored(envelope: Envelope[FileRestored]) -> None:
        event = envelope.data
        await indexing.set_trashed(
            event.account_id, event.document_id, trashed=False, at=envelope.time, event_id=envelope.id
        )

    async def details_changed(envelope: Envelope[FileDetailsChanged]) -> None:
        event = envelope.data
        await indexing.change_details(
            event.account_id,
            event.document_id,
            name=event.name,
            path=event.path,
            tags=list(event.tags),
            at=envelope.time,
            event_id=envelope.id,
        )

    events.subscribe(AccountCreated, account_created)
    events.subscribe(AccountPlanChanged, plan_changed)
    events.subscribe(FileVersionRecorded, version_recorded)
    events.subscribe(FileDeleted, file_deleted)
    events.subscribe(FileTrashed, file_trashed)
    events.subscribe(FileRestored, file_restored)
    events.subscribe(FileDetailsChanged, details_changed)

"""Event subscribers: decode, then one use case, applied once per event id.

Every event comes through one batch subscription (`subscribe_batch`), in each partition's
order. The uploads of a batch (`file.version-recorded`, most of the traffic) are recorded in
one transaction (`Indexing.record_uploads`, `run_once_each`); the other events, rare, each
in its own (`run_once`), as before. Every handler is quick: extraction happens in the
indexing worker. Nothing here waits for another event: facts that arrive early are stored in
the catalog and resolved when the rest arrives.
"""

from __future__ import annotations

from typing import Any

from docstore_events import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    Envelope,
    FileDeleted,
    FileDetailsChanged,
    FileRestored,
    FileTrashed,
    FileVersionRecorded,
)
from docstore_indexer.domain.plans import PREMIUM
from docstore_indexer.service_layer.indexing import Indexing
from docstore_indexer.service_layer.plans import Plans
from docstore_indexer.service_layer.previews import Previews
from docstore_messaging.runtime import EventRuntime


def register(events: EventRuntime, plans: Plans, indexing: Indexing, previews: Previews | None = None) -> None:
    """Subscribe the indexer's handlers; with `previews`, versions also get previews (every
    plan) and deletions remove them, each applied once under its own consumer name."""

    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        await plans.record_plan(event.account_id, event.plan, as_of=envelope.time, event_id=envelope.id)

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        event = envelope.data
        upgrade = event.new_plan == PREMIUM and event.old_plan != PREMIUM
        await plans.record_plan(
            event.account_id, event.new_plan, as_of=envelope.time, event_id=envelope.id, upgrade=upgrade
        )

    async def account_deleted(envelope: Envelope[AccountDeleted]) -> None:
        await plans.forget_account(envelope.data.account_id, as_of=envelope.time, event_id=envelope.id)

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        event = envelope.data
        if previews is not None:
            await previews.forget(event, at=envelope.time, event_id=envelope.id)
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

    one_by_one: dict[type[Any], Any] = {
        AccountCreated: account_created,
        AccountPlanChanged: plan_changed,
        AccountDeleted: account_deleted,
        FileDeleted: file_deleted,
        FileTrashed: file_trashed,
        FileRestored: file_restored,
        FileDetailsChanged: details_changed,
    }

    async def record_uploads(uploads: list[tuple[str, FileVersionRecorded, Any]]) -> None:
        await indexing.record_uploads(uploads)
        if previews is not None:
            await previews.record_versions(uploads)

    async def batch(envelopes: list[Envelope[Any]]) -> None:
        uploads: list[tuple[str, FileVersionRecorded, Any]] = []
        for envelope in envelopes:
            if isinstance(envelope.data, FileVersionRecorded):
                uploads.append((envelope.id, envelope.data, envelope.time))
                continue
            if uploads:  # keep the batch's order: the uploads before this event first
                await record_uploads(uploads)
                uploads = []
            await one_by_one[type(envelope.data)](envelope)
        if uploads:
            await record_uploads(uploads)

    events.subscribe_batch(batch, FileVersionRecorded, *one_by_one)

"""Event subscribers: decode, then apply to the ledger exactly once."""

from __future__ import annotations

from docstore_events import (
    AccountCreated,
    AccountPlanChanged,
    Envelope,
    FileDeleted,
    FileModified,
    FileRestored,
    FileTrashed,
    UploadCompleted,
    UploadExpired,
)
from docstore_events.runtime import EventRuntime
from docstore_quota.adapters.metrics import observe_upload
from docstore_quota.adapters.reservations import Reservations
from docstore_quota.domain.ledger import Ledger


def register(events: EventRuntime, ledger: Ledger, reservations: Reservations) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.set_plan(event.account_id, event.plan, envelope.time, s))

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.set_plan(event.account_id, event.new_plan, envelope.time, s))

    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        event = envelope.data
        plan: list[str] = []

        async def effect(session) -> None:
            usage = await ledger.uploaded(event.account_id, event.document_id, event.size, event.base_version, session)
            # Same transaction: the bytes stop being reserved exactly when they start being used.
            await reservations.release(event.account_id, event.upload_id, session)
            plan.append(usage.plan)

        if await events.apply_once(envelope, effect):
            observe_upload(plan[-1], event.size)

    async def upload_expired(envelope: Envelope[UploadExpired]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: reservations.release(event.account_id, event.upload_id, s))

    async def file_modified(envelope: Envelope[FileModified]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: ledger.modified(event.account_id, event.document_id, event.version, event.size, s)
        )

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.deleted(event.account_id, event.document_id, event.size, s))

    async def file_trashed(envelope: Envelope[FileTrashed]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: ledger.trashed(event.account_id, event.document_id, True, envelope.time, s)
        )

    async def file_restored(envelope: Envelope[FileRestored]) -> None:
        event = envelope.data
        await events.apply_once(
            envelope, lambda s: ledger.trashed(event.account_id, event.document_id, False, envelope.time, s)
        )

    events.subscribe(AccountCreated, account_created)
    events.subscribe(AccountPlanChanged, plan_changed)
    events.subscribe(UploadCompleted, upload_completed)
    events.subscribe(UploadExpired, upload_expired)
    events.subscribe(FileModified, file_modified)
    events.subscribe(FileDeleted, file_deleted)
    events.subscribe(FileTrashed, file_trashed)
    events.subscribe(FileRestored, file_restored)

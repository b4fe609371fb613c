"""Event subscribers: each decodes its event and calls one use case, applied exactly once."""

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
from docstore_quota.service_layer.ledger import Ledger
from docstore_quota.service_layer.reservations import Reservations


def register(events: EventRuntime, ledger: Ledger, reservations: Reservations) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        e = envelope.data
        await ledger.set_plan(envelope.id, e.account_id, e.plan, envelope.time)

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        e = envelope.data
        await ledger.set_plan(envelope.id, e.account_id, e.new_plan, envelope.time)

    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        e = envelope.data
        await ledger.uploaded(envelope.id, e.account_id, e.upload_id, e.document_id, e.size, e.base_version)

    async def upload_expired(envelope: Envelope[UploadExpired]) -> None:
        e = envelope.data
        await reservations.expired(envelope.id, e.account_id, e.upload_id)

    async def file_modified(envelope: Envelope[FileModified]) -> None:
        e = envelope.data
        await ledger.modified(envelope.id, e.account_id, e.document_id, e.version, e.size)

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        e = envelope.data
        await ledger.deleted(envelope.id, e.account_id, e.document_id, e.size)

    async def file_trashed(envelope: Envelope[FileTrashed]) -> None:
        e = envelope.data
        await ledger.trashed(envelope.id, e.account_id, e.document_id, True, envelope.time)

    async def file_restored(envelope: Envelope[FileRestored]) -> None:
        e = envelope.data
        await ledger.trashed(envelope.id, e.account_id, e.document_id, False, envelope.time)

    events.subscribe(AccountCreated, account_created)
    events.subscribe(AccountPlanChanged, plan_changed)
    events.subscribe(UploadCompleted, upload_completed)
    events.subscribe(UploadExpired, upload_expired)
    events.subscribe(FileModified, file_modified)
    events.subscribe(FileDeleted, file_deleted)
    events.subscribe(FileTrashed, file_trashed)
    events.subscribe(FileRestored, file_restored)

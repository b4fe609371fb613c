"""The event subscriber: every event quota consumes, in batches, each applied exactly once.

Each envelope becomes a ledger entry; a batch is applied by `Ledger.apply` in one
transaction (see `docstore_messaging.batches`).
"""

from __future__ import annotations

from typing import Any

from docstore_events import (
    AccountCreated,
    AccountDeleted,
    AccountPlanChanged,
    Envelope,
    FileDeleted,
    FileModified,
    FileRestored,
    FileTrashed,
    UploadCompleted,
    UploadExpired,
)
from docstore_messaging.runtime import EventRuntime
from docstore_quota.service_layer.ledger import (
    AccountClosed,
    DocumentChanged,
    Entry,
    Ledger,
    PlanSet,
    ReservationReleased,
)

CONSUMED = (
    AccountCreated,
    AccountPlanChanged,
    AccountDeleted,
    UploadCompleted,
    UploadExpired,
    FileModified,
    FileDeleted,
    FileTrashed,
    FileRestored,
)


def entry(envelope: Envelope[Any]) -> Entry:
    """What one consumed event means to the ledger."""
    event_id, e = envelope.id, envelope.data
    match e:
        case AccountCreated():
            return PlanSet(event_id, e.account_id, e.plan, envelope.time)
        case AccountPlanChanged():
            return PlanSet(event_id, e.account_id, e.new_plan, envelope.time)
        case UploadCompleted():
            return DocumentChanged.uploaded(event_id, e.account_id, e.upload_id, e.document_id, e.size, e.base_version)
        case AccountDeleted():
            return AccountClosed(event_id, e.account_id)
        case UploadExpired():
            return ReservationReleased(event_id, e.account_id, e.upload_id)
        case FileModified():
            return DocumentChanged.modified(event_id, e.account_id, e.document_id, e.version, e.size)
        case FileDeleted():
            return DocumentChanged.deleted(event_id, e.account_id, e.document_id, e.size)
        case FileTrashed():
            return DocumentChanged.trashed(event_id, e.account_id, e.document_id, True, envelope.time)
        case FileRestored():
            return DocumentChanged.trashed(event_id, e.account_id, e.document_id, False, envelope.time)
    raise TypeError(f"quota does not consume {envelope.type}")


def register(events: EventRuntime, ledger: Ledger) -> None:
    async def apply(envelopes: list[Envelope[Any]]) -> None:
        await ledger.apply([entry(envelope) for envelope in envelopes])

    events.subscribe_batch(apply, *CONSUMED)

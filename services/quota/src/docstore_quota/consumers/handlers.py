"""Event subscribers: decode, then apply to the ledger exactly once."""

from __future__ import annotations

from docstore_events import AccountCreated, AccountPlanChanged, Envelope, FileDeleted, UploadCompleted
from docstore_events.runtime import EventRuntime
from docstore_quota.domain.ledger import Ledger


def register(events: EventRuntime, ledger: Ledger) -> None:
    async def account_created(envelope: Envelope[AccountCreated]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.open_account(event.account_id, event.plan, s))

    async def plan_changed(envelope: Envelope[AccountPlanChanged]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.change_plan(event.account_id, event.new_plan, s))

    async def upload_completed(envelope: Envelope[UploadCompleted]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.add(event.account_id, event.size, s))

    async def file_deleted(envelope: Envelope[FileDeleted]) -> None:
        event = envelope.data
        await events.apply_once(envelope, lambda s: ledger.remove(event.account_id, event.size, s))

    events.subscribe(AccountCreated, account_created)
    events.subscribe(AccountPlanChanged, plan_changed)
    events.subscribe(UploadCompleted, upload_completed)
    events.subscribe(FileDeleted, file_deleted)

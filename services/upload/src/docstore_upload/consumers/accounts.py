"""Upload's `account.deleted` subscriber: the account's pending uploads end (`Endings.close_account`),
one event at a time in upload's consumer group (acknowledged after the handler returns: a failure is
retried, then dead-lettered; the handler is idempotent, so a redelivery changes nothing)."""

from __future__ import annotations

from docstore_events import AccountDeleted, Envelope
from docstore_messaging.runtime import EventRuntime
from docstore_upload.service_layer.endings import Endings


def register_account_deletion(events: EventRuntime, endings: Endings) -> None:
    async def deleted(envelope: Envelope[AccountDeleted]) -> None:
        await endings.close_account(envelope.data.account_id)

    events.subscribe(AccountDeleted, deleted)

"""Upload's `account.deleted` subscriber: the account's pending uploads end (`Endings.close_account`),
in upload's batch consumer (a service consumes in batches or one at a time, and the S3 notifications
come in batches: `EventRuntime.subscribe_raw_batch`). Offsets are committed after the handler
returns; a failure is retried, then dead-lettered; `close_account` is idempotent, so a redelivery
changes nothing."""

from __future__ import annotations

from typing import Any

from docstore_events import AccountDeleted, Envelope
from docstore_messaging.runtime import EventRuntime
from docstore_upload.service_layer.endings import Endings


def register_account_deletion(events: EventRuntime, endings: Endings) -> None:
    async def deleted(envelopes: list[Envelope[Any]]) -> None:
        for envelope in envelopes:
            await endings.close_account(envelope.data.account_id)

    events.subscribe_batch(deleted, AccountDeleted)

"""Metadata's `account.deleted` subscriber: the account's documents are scheduled for purging
after the grace period (`AccountPurge.schedule_once`), in batches like metadata's other
subscribers (the batch consumer commits offsets after the transaction: at least once, applied once)."""

from __future__ import annotations

from typing import Any

from docstore_events import AccountDeleted, Envelope
from docstore_events.runtime import EventRuntime
from docstore_metadata.service_layer.account_purge import AccountPurge


def register_account_deletion(events: EventRuntime, purge: AccountPurge) -> None:
    async def deleted(envelopes: list[Envelope[Any]]) -> None:
        await purge.schedule_once([(envelope.id, envelope.data, envelope.time) for envelope in envelopes])

    events.subscribe_batch(deleted, AccountDeleted)

"""Metadata's `account.*` subscriber (issue 36): every event of the account projection is applied
to it (`AccountProjector.apply_once`); `account.deleted` also schedules the account's documents
for purging after the grace period (`AccountPurge.schedule_once`), after the projection recorded
the deletion. In batches like metadata's other subscribers (the batch consumer commits offsets
after the transactions: at least once, applied once)."""

from __future__ import annotations

from typing import Any

from docstore_events import AccountDeleted, Envelope
from docstore_messaging.runtime import EventRuntime
from docstore_metadata.domain.account_projection import PROJECTED
from docstore_metadata.service_layer.account_projection import AccountProjector
from docstore_metadata.service_layer.account_purge import AccountPurge


def register_account_deletion(events: EventRuntime, purge: AccountPurge, projector: AccountProjector) -> None:
    async def accounts(envelopes: list[Envelope[Any]]) -> None:
        await projector.apply_once([(envelope.id, envelope.data, envelope.time) for envelope in envelopes])
        deleted = [envelope for envelope in envelopes if isinstance(envelope.data, AccountDeleted)]
        if deleted:
            await purge.schedule_once([(envelope.id, envelope.data, envelope.time) for envelope in deleted])

    events.subscribe_batch(accounts, *PROJECTED)

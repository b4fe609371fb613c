"""The `account.*` consumer's use case (issue 36): metadata's projection of accounts
(`domain/account_projection.py`), each event applied once, a batch in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from docstore_events.base import Event
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.domain.account_projection import changes_for

Tx = Transaction[Repositories]

PROJECTION_CONSUMER = "metadata-account-projection"
"""The processed-event records of the projection: apart from the purge's (`account.deleted` feeds
both, in two transactions; a redelivery finds each one done)."""


class AccountProjector:
    def __init__(self, uow: UnitOfWork[Repositories]) -> None:
        self.uow = uow

    async def apply_once(self, batch: Sequence[tuple[str, Event, datetime]]) -> frozenset[str]:
        """Apply `(event id, event, time)` in order, each once."""
        order = [event_id for event_id, _, _ in batch]
        events = {event_id: (event, at) for event_id, event, at in batch}

        async def work(tx: Tx, fresh: frozenset[str]) -> None:
            for event_id in order:
                if event_id in fresh:
                    event, at = events[event_id]
                    changes, on_insert = changes_for(event, at)
                    await tx.repos.projection.apply(event.account_id, changes, on_insert)

        return await self.uow.run_once_each(consumer=PROJECTION_CONSUMER, event_ids=order, work=work)

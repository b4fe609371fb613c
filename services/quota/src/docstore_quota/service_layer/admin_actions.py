"""The admin dashboard's actions that change something, each recorded for the audit trail:
replaying a dead letter and running the reconciliation, with the administrator as the event's
account. The action comes first (a replay is a Kafka publish, a report a MongoDB write of its
own); its event then goes through the outbox, and the route answers only once it is stored."""

from __future__ import annotations

from typing import Any

from docstore_events.activity import DeadLetterReplayed, ReconciliationRan
from docstore_events.base import Event
from docstore_events.envelope import KafkaRecord
from docstore_messaging.unit_of_work import Transaction, UnitOfWork
from docstore_quota.service_layer.dead_letters import DeadLetterBrowser
from docstore_quota.service_layer.ports import Repos
from docstore_quota.service_layer.reconciliation import Reconciler


class AdminActions:
    """`replay` and `reconcile` for an administrator, each leaving one event in the outbox."""

    def __init__(self, uow: UnitOfWork[Repos], letters: DeadLetterBrowser, reconciler: Reconciler) -> None:
        self.uow = uow
        self.letters = letters
        self.reconciler = reconciler

    async def replay(self, topic: str, partition: int, offset: int, *, admin_id: str) -> KafkaRecord:
        """Replay one dead letter (`NoDeadLetter` when there is none: nothing is recorded)."""
        record = await self.letters.replay(topic, partition, offset, admin_id=admin_id)
        await self._record(
            DeadLetterReplayed(
                account_id=admin_id,
                dead_letter_topic=topic,
                partition=partition,
                offset=offset,
                original_topic=record.topic,
                event_id=record.headers.get("ce_id"),
            )
        )
        return record

    async def reconcile(self, *, admin_id: str) -> dict[str, Any]:
        """Compare the ledger with S3 now; the report as `Reconciler.run` returns it."""
        report = await self.reconciler.run()
        await self._record(
            ReconciliationRan(
                account_id=admin_id,
                report_id=str(report["id"]),
                accounts_checked=int(report["accounts_checked"]),
                drifting_accounts=int(report["drifting_accounts"]),
                total_drift_bytes=int(report["total_drift_bytes"]),
            )
        )
        return report

    async def _record(self, event: Event) -> None:
        async def work(tx: Transaction[Repos]) -> None:
            tx.emit(event)

        await self.uow.run(work)

"""The recorded-versions check (issue 32): every version metadata recorded applied by the
indexer (its catalog, hence full text); what it never applied is published again, rebuilt from
the version and its document, under its original event id, through metadata's outbox.

The rules are `domain.consistency`; the running (lease, watermark, metrics, admin route) is
`docstore_kit.consistency`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from docstore_kit.consistency import Finding, PageResult, ProcessedEvents, RepairBudget, compare
from docstore_messaging.outbox import Outbox
from docstore_metadata.adapters.consistency import RecordedVersions
from docstore_metadata.domain.consistency import (
    fact_of,
    recorded_from_state,
    settled_before,
    watermark,
)


class RecordedVersionsCheck:
    name = "file.version-recorded"

    def __init__(
        self,
        versions: RecordedVersions,
        outbox: Outbox,
        consumers: Sequence[ProcessedEvents],
        budget: RepairBudget,
        *,
        settle_seconds: float,
    ) -> None:
        self.versions = versions
        self.outbox = outbox
        self.consumers = list(consumers)
        self.budget = budget
        self.settle_seconds = settle_seconds

    async def check_page(self, after: Any, limit: int, *, repair: bool) -> PageResult:
        # Only versions old enough to judge: a recent one's event may still be on its way.
        rows = await self.versions.page(after, limit, before=settled_before(datetime.now(UTC), self.settle_seconds))
        ended = len(rows) < limit
        next_after = watermark(rows[-1]) if rows else None
        documents = await self.versions.documents_of(rows)
        facts = [row for row in rows if row["document_id"] in documents]  # a purged document's are no facts
        event_ids = await self.versions.event_ids(facts)
        known = list(event_ids.values())
        applied = {
            consumer.consumer: await consumer.processed(known) if known else set() for consumer in self.consumers
        }
        comparison = compare(facts, fact_of, event_ids, applied)
        findings = []
        allowed = await self.budget.allowed(m.event_id for m in comparison.missing) if repair else set()
        for missing in comparison.missing:
            repaired = missing.event_id in allowed
            document = documents[missing.fact["document_id"]]
            if repaired:
                event = recorded_from_state(document, missing.fact)
                await self.outbox.republish(event, event_id=missing.event_id)
                await self.budget.spend(missing.event_id)
            findings.append(
                Finding(
                    fact=fact_of(missing.fact),
                    event_id=missing.event_id,
                    event_type="file.version-recorded",
                    consumers=missing.consumers,
                    account_id=document["account_id"],
                    repaired=repaired,
                )
            )
        if allowed:
            self.outbox.wake_relay()
        return PageResult(
            scanned=len(facts),
            findings=findings,
            unverifiable=len(comparison.unknown),
            next_after=None if ended else next_after,
        )

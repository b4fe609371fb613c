"""The completed-uploads check (issue 32): every completed upload applied by metadata (its
version) and quota (its ledger entry); what one of them never applied is published again,
rebuilt from the session, under its original event id, through upload's outbox.

The rules are `domain.consistency`; the running (lease, watermark, metrics, admin route) is
`docstore_kit.consistency`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from docstore_kit.consistency import Finding, PageResult, ProcessedEvents, RepairBudget, compare
from docstore_messaging.outbox import Outbox
from docstore_upload.adapters.consistency import CompletedSessions
from docstore_upload.domain.consistency import (
    completed_from_state,
    original_event_id,
    settled_before,
    watermark,
)


class CompletedUploadsCheck:
    name = "upload.completed"

    def __init__(
        self,
        sessions: CompletedSessions,
        outbox: Outbox,
        consumers: Sequence[ProcessedEvents],
        budget: RepairBudget,
        *,
        bucket: str,
        settle_seconds: float,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.consumers = list(consumers)
        self.budget = budget
        self.bucket = bucket
        self.settle_seconds = settle_seconds

    async def check_page(self, after: Any, limit: int, *, repair: bool) -> PageResult:
        # Only completions old enough to judge: a recent one's event may still be on its way.
        page = await self.sessions.page(after, limit, before=settled_before(datetime.now(UTC), self.settle_seconds))
        ended = len(page) < limit
        next_after = watermark(page[-1]) if page else None
        outbox_ids = await self.sessions.outbox_ids(page)
        event_ids: Mapping[str, str | None] = {s["_id"]: original_event_id(s, outbox_ids) for s in page}
        known = [event_id for event_id in event_ids.values() if event_id]
        applied = {
            consumer.consumer: await consumer.processed(known) if known else set() for consumer in self.consumers
        }
        comparison = compare(page, lambda session: session["_id"], event_ids, applied)
        findings = []
        allowed = await self.budget.allowed(m.event_id for m in comparison.missing) if repair else set()
        for missing in comparison.missing:
            repaired = missing.event_id in allowed
            if repaired:
                event = completed_from_state(missing.fact, bucket=self.bucket)
                await self.outbox.republish(event, event_id=missing.event_id)
                await self.budget.spend(missing.event_id)
            findings.append(
                Finding(
                    fact=missing.fact["_id"],
                    event_id=missing.event_id,
                    event_type="upload.completed",
                    consumers=missing.consumers,
                    account_id=missing.fact["account_id"],
                    repaired=repaired,
                )
            )
        if allowed:
            self.outbox.wake_relay()
        return PageResult(
            scanned=len(page),
            findings=findings,
            unverifiable=len(comparison.unknown),
            next_after=None if ended else next_after,
        )

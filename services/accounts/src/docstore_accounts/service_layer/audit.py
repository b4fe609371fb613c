"""The audit trail's use cases: record events once, read an account's activity, query and export
across accounts, verify chains, and purge what retention lets go.

The audit trail is a module of the accounts service (see the README; it moved here from metadata
with identity, issue 36): it has a unit of work of its own (`audit_log` and `audit_chains` only),
its own consumer group and processed-event records (`accounts-audit`), and reads no other
collection, so it can move to a service of its own with its collections and consumer as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from docstore_accounts.adapters.audit_log import AuditLog, AuditRepositories, Criteria
from docstore_accounts.domain.audit import (
    AuditFact,
    AuditRecord,
    ChainVerifier,
    Verification,
    audit_facts,
    chain,
    purge_point,
    region_of,
)
from docstore_messaging.unit_of_work import Transaction, UnitOfWork

log = structlog.get_logger(__name__)

CONSUMER = "accounts-audit"
"""The audit consumer's name: its Kafka group (after the topic prefix) and processed-event key."""


@dataclass(frozen=True)
class Delivered:
    """What the audit needs of one delivered event (`docstore_events.Envelope` in plain terms)."""

    event_id: str
    event_type: str
    data: Mapping[str, Any]
    """The event's fields as JSON values."""
    time: datetime
    source: str
    client_address: str | None = None
    user_agent: str | None = None


class AuditTrail:
    def __init__(
        self,
        uow: UnitOfWork[AuditRepositories],
        reads: AuditLog,
        *,
        region: str,
        retention: timedelta,
        purge_interval: float = 3600.0,
        page_size_max: int = 200,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.region = region
        self.retention = retention
        self.purge_interval = purge_interval
        self.page_size_max = page_size_max

    # --- recording -----------------------------------------------------------------------

    def facts(self, delivered: Delivered) -> list[AuditFact]:
        return audit_facts(
            event_type=delivered.event_type,
            data=delivered.data,
            event_id=delivered.event_id,
            at=delivered.time,
            region=region_of(delivered.source, self.region),
            client_address=delivered.client_address,
            user_agent=delivered.user_agent,
        )

    async def record_once(self, deliveries: list[Delivered]) -> int:
        """Append each delivered action to its account's chain, in the order they happened, once per
        event id however often it is delivered; one transaction for the lot. Returns records written."""
        facts = [fact for delivered in deliveries for fact in self.facts(delivered)]
        # One account's events come from several topics (partitions), which a batch holds in no
        # order among themselves: within a batch they take their places by the time they happened
        # (stable, so one partition's order stands among equal times).
        facts.sort(key=lambda fact: fact.at)
        if not facts:
            return 0
        written: list[int] = []

        async def work(tx: Transaction[AuditRepositories], fresh: frozenset[str]) -> None:
            written.clear()
            audit = tx.repos.audit
            new = [fact for fact in facts if fact.from_event in fresh]
            # A record without its processed-event row (restored from a backup, say) still counts.
            already = await audit.recorded([fact.event_id for fact in new])
            by_account: dict[str, list[AuditFact]] = {}
            for fact in new:
                if fact.event_id not in already:
                    by_account.setdefault(fact.account_id, []).append(fact)
            for account_id, account_facts in by_account.items():
                head = (await audit.chain(account_id)).head
                await audit.append(account_id, head, chain(head, account_facts))
                written.append(len(account_facts))

        event_ids = list(dict.fromkeys(fact.from_event for fact in facts))
        await self.uow.run_once_each(consumer=CONSUMER, event_ids=event_ids, work=work)
        return sum(written)

    # --- reading -------------------------------------------------------------------------

    async def activity(
        self, account_id: str, *, action: str | None, before_seq: int | None, limit: int
    ) -> tuple[list[AuditRecord], int | None]:
        """A page of the account's records, newest first, and the seq to continue below (None: last page)."""
        limit = max(1, min(limit, self.page_size_max))
        records = await self.reads.activity(account_id, action=action, before_seq=before_seq, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        return records, (records[-1].seq if more and records else None)

    async def search(
        self, criteria: Criteria, *, after: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[AuditRecord], tuple[datetime, str] | None]:
        """A page of records across accounts, newest first, and the position after it."""
        limit = max(1, min(limit, self.page_size_max))
        found = await self.reads.search(criteria, after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        position = (found[-1][1].at, found[-1][0]) if more and found else None
        return [record for _, record in found], position

    async def export(self, criteria: Criteria, *, batch: int = 500) -> AsyncIterator[AuditRecord]:
        """Every record matching `criteria`, oldest first, read a batch at a time."""
        after: tuple[datetime, str] | None = None
        while True:
            found = await self.reads.search(criteria, after=after, limit=batch, newest_first=False)
            for _, record in found:
                yield record
            if len(found) < batch:
                return
            after = (found[-1][1].at, found[-1][0])

    async def verify(self, account_id: str) -> Verification:
        """Check the account's chain from its anchor to its head.

        A purge running meanwhile moves the anchor and deletes records under the reader; a
        verdict of "broken" is therefore taken again once, and it stands only if the anchor did
        not move in between."""
        for _ in range(2):
            before = await self.reads.chain(account_id)
            verifier = ChainVerifier(before.anchor)
            async for record in self.reads.records(account_id, after_seq=before.anchor.seq):
                if not verifier.feed(record):
                    break
            outcome = verifier.result(before.head)
            if outcome.ok or (await self.reads.chain(account_id)).anchor == before.anchor:
                return outcome
        return outcome

    async def verify_all(self) -> dict[str, Verification]:
        """Every account's verdict (the operator's command)."""
        return {account_id: await self.verify(account_id) async for account_id in self.reads.accounts()}

    # --- retention -----------------------------------------------------------------------

    async def purge_expired(self, now: datetime | None = None, *, batch: int = 1000) -> int:
        """Delete records older than the retention, a prefix of each chain at a time, keeping the
        last deleted record's seq and hash as the chain's anchor. Returns how many went."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        total = 0
        while True:
            old = await self.reads.older_than(cutoff, limit=batch)
            if not old:
                return total
            purged_now = 0
            for account_id in dict.fromkeys(account for account, _ in old):
                purged_now += await self._purge_account(account_id, cutoff, batch)
            total += purged_now
            if purged_now == 0:
                # Old records behind a newer one (clocks of two producers apart): they go with it.
                return total

    async def _purge_account(self, account_id: str, cutoff: datetime, batch: int) -> int:
        async def work(tx: Transaction[AuditRepositories]) -> int:
            audit = tx.repos.audit
            through = purge_point(await audit.first_records(account_id, limit=batch), cutoff)
            if through is None or (await audit.chain(account_id)).anchor.seq >= through:
                return 0
            return await audit.purge(account_id, through)

        return await self.uow.run(work)

    async def run_purge(self) -> None:
        """The retention loop: purge, then sleep `purge_interval`, until cancelled."""
        while True:
            try:
                purged = await self.purge_expired()  # emits nothing: no trace of its own
                if purged:
                    log.info("audit_records_purged", count=purged, retention_days=self.retention.days)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again next round
                log.exception("audit_purge_failed")
            await asyncio.sleep(self.purge_interval)

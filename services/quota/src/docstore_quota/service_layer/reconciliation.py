"""Comparing the ledger with what S3 really holds, and saying so. It never changes the ledger.

The sum of an account's object sizes must equal its `stored_bytes`. A difference is
reported (the admin route, a `quota_drift` log line per account, the `docstore_quota_drift*`
gauges) and left for an operator to explain: a moment of drift is normal while an upload's
object is in S3 but its `upload.completed` is not applied yet, or a deletion was applied but
metadata has not removed the object yet; drift that stays is a bug.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from docstore_kit import errors
from docstore_messaging.tracing import loop_span
from docstore_quota.adapters import metrics
from docstore_quota.adapters.reconciliation import ReportRepository, S3Inventory
from docstore_quota.domain import reconciliation
from docstore_quota.service_layer.ports import UsageStore

log = structlog.get_logger(__name__)


class NoReport(errors.NotFound):
    def detail(self) -> str:
        return "No reconciliation has run yet: usage has not been compared with storage so far."


class Reconciler:
    def __init__(self, usage: UsageStore, inventory: S3Inventory, reports: ReportRepository) -> None:
        self.usage = usage
        self.inventory = inventory
        self.reports = reports

    async def run(self) -> dict[str, Any]:
        """Compare now; store, log and export the report, and return it."""
        started = datetime.now(UTC)
        # Read the ledger first: an upload applied while S3 is listed shows as S3 > ledger,
        # never as bytes the ledger counts and S3 does not have.
        ledger = await self.usage.all_stored()
        in_s3, objects = await self.inventory.sizes()
        report = reconciliation.report(
            uuid.uuid4().hex,
            started=started,
            finished=datetime.now(UTC),
            bucket=self.inventory.bucket,
            region=self.inventory.region,
            ledger=ledger,
            s3=in_s3,
            objects=objects,
        )
        await self.reports.add(report)
        metrics.drifting_accounts.set(report["drifting_accounts"])
        metrics.drift_bytes.set(report["total_drift_bytes"])
        for drift in report["drifts"]:
            log.warning("quota_drift", **drift)
        log.info(
            "quota_reconciled",
            report_id=report["id"],
            accounts=report["accounts_checked"],
            drifting_accounts=report["drifting_accounts"],
            total_drift_bytes=report["total_drift_bytes"],
        )
        return report

    async def latest(self) -> dict[str, Any]:
        """The latest report; `NoReport` before the first."""
        report = await self.reports.latest()
        if report is None:
            raise NoReport()
        return report

    async def run_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                with loop_span("quota reconciliation"):
                    await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("quota_reconciliation_failed")

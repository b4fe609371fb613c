"""Comparing the ledger with what S3 really holds, and saying so. It never changes the ledger.

Objects live under `<region>/<account_id>/<document_id>/<upload_id>` in the region's
bucket; the sum of an account's object sizes must equal its `stored_bytes`. A difference
is reported (the admin route, a `quota_drift` log line per account, the
`docstore_quota_drift*` gauges) and left for an operator to explain: a moment of drift is
normal while an upload's object is in S3 but its `upload.completed` is not applied yet, or
a deletion was applied but metadata has not removed the object yet; drift that stays is a bug.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase as AsyncIOMotorDatabase
from pymongo import DESCENDING

from docstore_quota.adapters import metrics
from docstore_quota.adapters.usage_repository import UsageRepository

log = structlog.get_logger(__name__)

COLLECTION = "reconciliations"
MAX_LISTED_DRIFTS = 1000


def s3_sizes(s3: Any, bucket: str, region: str) -> tuple[dict[str, int], int]:
    """Bytes per account under `<region>/` and the number of objects (blocking: run in a thread)."""
    sizes: dict[str, int] = defaultdict(int)
    objects = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{region}/"):
        for item in page.get("Contents", []):
            parts = item["Key"].split("/")
            if len(parts) >= 3 and parts[1]:
                sizes[parts[1]] += item["Size"]
                objects += 1
    return dict(sizes), objects


def compare(ledger: dict[str, int], s3: dict[str, int]) -> list[dict[str, Any]]:
    """Accounts whose ledger differs from S3, biggest difference first."""
    drifts = []
    for account_id in set(ledger) | set(s3):
        in_ledger, in_s3 = ledger.get(account_id, 0), s3.get(account_id, 0)
        if in_ledger != in_s3:
            drifts.append({"account_id": account_id, "ledger_bytes": in_ledger, "s3_bytes": in_s3,
                           "drift_bytes": in_ledger - in_s3})
    return sorted(drifts, key=lambda d: (-abs(d["drift_bytes"]), d["account_id"]))


class Reconciler:
    def __init__(self, db: AsyncIOMotorDatabase, usage: UsageRepository, s3: Any, *, bucket: str, region: str) -> None:
        self.collection = db[COLLECTION]
        self.usage = usage
        self.s3 = s3
        self.bucket = bucket
        self.region = region

    async def run(self) -> dict[str, Any]:
        """Compare now; store, log and export the report, and return it."""
        started = datetime.now(UTC)
        # Read the ledger first: an upload applied while S3 is listed shows as S3 > ledger,
        # never as bytes the ledger counts and S3 does not have.
        ledger = await self.usage.all_stored()
        in_s3, objects = await asyncio.to_thread(s3_sizes, self.s3, self.bucket, self.region)
        drifts = compare(ledger, in_s3)
        report = {
            "_id": uuid.uuid4().hex,
            "started_at": started,
            "finished_at": datetime.now(UTC),
            "bucket": self.bucket,
            "prefix": f"{self.region}/",
            "accounts_checked": len(set(ledger) | set(in_s3)),
            "objects": objects,
            "ledger_bytes": sum(ledger.values()),
            "s3_bytes": sum(in_s3.values()),
            "drifting_accounts": len(drifts),
            "total_drift_bytes": sum(abs(d["drift_bytes"]) for d in drifts),
            "drifts": drifts[:MAX_LISTED_DRIFTS],
            "fixed": False,
        }
        await self.collection.insert_one(report)
        metrics.drifting_accounts.set(report["drifting_accounts"])
        metrics.drift_bytes.set(report["total_drift_bytes"])
        for drift in drifts[:MAX_LISTED_DRIFTS]:
            log.warning("quota_drift", **drift)
        log.info("quota_reconciled", report_id=report["_id"], accounts=report["accounts_checked"],
                 drifting_accounts=report["drifting_accounts"], total_drift_bytes=report["total_drift_bytes"])
        return report

    async def latest(self) -> dict[str, Any] | None:
        return await self.collection.find_one({}, sort=[("started_at", DESCENDING)])

    async def run_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("quota_reconciliation_failed")

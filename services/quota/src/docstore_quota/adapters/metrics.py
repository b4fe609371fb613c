"""Prometheus metrics of usage: per plan, and by document size.

The gauges are refreshed from the ledger (`MetricsRefresher`), so every replica serves
the same system-wide numbers; the upload-size histogram counts what this process applied
(sum it over replicas).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from prometheus_client import Gauge, Histogram

from docstore_quota.adapters.usage_repository import UsageRepository

log = structlog.get_logger(__name__)

KB, MB, GB = 1_000, 1_000_000, 1_000_000_000
SIZE_CLASSES: list[tuple[str, int, int | None]] = [
    ("<=100KB", 0, 100 * KB),
    ("<=1MB", 100 * KB, MB),
    ("<=10MB", MB, 10 * MB),
    ("<=100MB", 10 * MB, 100 * MB),
    ("<=1GB", 100 * MB, GB),
    (">1GB", GB, None),
]

accounts = Gauge("docstore_quota_accounts", "Accounts, by plan", ["plan"])
documents = Gauge("docstore_quota_documents", "Documents with bytes in S3, by plan", ["plan"])
stored_bytes = Gauge("docstore_quota_stored_bytes", "Bytes in S3 (trash and old versions included), by plan", ["plan"])
used_bytes = Gauge("docstore_quota_used_bytes", "Bytes counted toward quotas, by plan", ["plan"])
average_document_bytes = Gauge("docstore_quota_average_document_bytes", "Stored bytes per document, by plan", ["plan"])
over_quota_accounts = Gauge("docstore_quota_accounts_over_quota", "Accounts flagged over their cap, by plan", ["plan"])
documents_by_size = Gauge("docstore_quota_documents_by_size", "Documents by stored size class", ["size_class"])
upload_size = Histogram(
    "docstore_quota_upload_size_bytes",
    "Sizes of the uploads applied to the ledger, by plan",
    ["plan"],
    buckets=[10 * KB, 100 * KB, MB, 10 * MB, 100 * MB, GB, 5 * GB, 20 * GB],
)
drifting_accounts = Gauge(
    "docstore_quota_drifting_accounts", "Accounts whose ledger differs from S3 at the last reconciliation"
)
drift_bytes = Gauge("docstore_quota_drift_bytes", "Sum of |ledger - S3| over accounts at the last reconciliation")


def observe_upload(plan: str, size: int) -> None:
    upload_size.labels(plan).observe(size)


def totals_by_plan(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The aggregated ledger rows as per-plan totals, with the average document size."""
    result: dict[str, dict[str, float]] = {}
    for plan in ("free", "premium"):
        result[plan] = {"accounts": 0, "documents": 0, "stored_bytes": 0, "used_bytes": 0, "over_quota": 0}
    for row in rows:
        result[row["_id"]] = {
            k: row.get(k, 0) for k in ("accounts", "documents", "stored_bytes", "used_bytes", "over_quota")
        }
    for values in result.values():
        values["average_document_bytes"] = (
            round(values["stored_bytes"] / values["documents"]) if values["documents"] > 0 else 0
        )
    return result


async def refresh(usage: UsageRepository) -> dict[str, dict[str, float]]:
    totals = totals_by_plan(await usage.totals())
    for plan, values in totals.items():
        accounts.labels(plan).set(values["accounts"])
        documents.labels(plan).set(values["documents"])
        stored_bytes.labels(plan).set(values["stored_bytes"])
        used_bytes.labels(plan).set(values["used_bytes"])
        average_document_bytes.labels(plan).set(values["average_document_bytes"])
        over_quota_accounts.labels(plan).set(values["over_quota"])
    for name, count in (await usage.documents_by_size(SIZE_CLASSES)).items():
        documents_by_size.labels(name).set(count)
    return totals


async def run_refresher(usage: UsageRepository, interval: float) -> None:
    while True:
        try:
            await refresh(usage)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("metrics_refresh_failed")
        await asyncio.sleep(interval)

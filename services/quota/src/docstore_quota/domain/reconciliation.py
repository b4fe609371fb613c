"""Comparing the ledger with what S3 holds. Pure, no I/O; it never changes the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MAX_LISTED_DRIFTS = 1000


def compare(ledger: dict[str, int], s3: dict[str, int]) -> list[dict[str, Any]]:
    """Accounts whose ledger differs from S3, biggest difference first."""
    drifts = []
    for account_id in set(ledger) | set(s3):
        in_ledger, in_s3 = ledger.get(account_id, 0), s3.get(account_id, 0)
        if in_ledger != in_s3:
            drifts.append(
                {
                    "account_id": account_id,
                    "ledger_bytes": in_ledger,
                    "s3_bytes": in_s3,
                    "drift_bytes": in_ledger - in_s3,
                }
            )
    return sorted(drifts, key=lambda d: (-abs(d["drift_bytes"]), d["account_id"]))


def report(
    report_id: str,
    *,
    started: datetime,
    finished: datetime,
    bucket: str,
    region: str,
    ledger: dict[str, int],
    s3: dict[str, int],
    objects: int,
) -> dict[str, Any]:
    """The stored and answered report of one comparison (`fixed` is always false)."""
    drifts = compare(ledger, s3)
    return {
        "id": report_id,
        "started_at": started,
        "finished_at": finished,
        "bucket": bucket,
        "prefix": f"{region}/",
        "accounts_checked": len(set(ledger) | set(s3)),
        "objects": objects,
        "ledger_bytes": sum(ledger.values()),
        "s3_bytes": sum(s3.values()),
        "drifting_accounts": len(drifts),
        "total_drift_bytes": sum(abs(d["drift_bytes"]) for d in drifts),
        "drifts": drifts[:MAX_LISTED_DRIFTS],
        "fixed": False,
    }

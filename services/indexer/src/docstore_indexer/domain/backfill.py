"""Backfill jobs: the progress of indexing an account's documents after an upgrade. Pure.

An upgrade to Premium starts one job per account (`service_layer/backfill.py` runs it); a
downgrade cancels it. The job counts what it indexed and what failed, and keeps a cursor
(the last catalog entry done) so another replica can take it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

RUNNING, COMPLETE, CANCELLED = "running", "complete", "cancelled"


@dataclass(frozen=True)
class BackfillJob:
    account_id: str
    job_id: str
    state: str
    total: int
    indexed: int
    failed: int
    cursor: str
    started_at: datetime
    finished_at: datetime | None = None


def first_state(total: int) -> str:
    """A job with nothing to do is complete at once."""
    return RUNNING if total else COMPLETE


def progress(job: BackfillJob | None, counts: dict[str, int], *, enabling: bool = False) -> dict[str, Any]:
    """What `GET /search/status` answers: {state, indexed, failed, pending, total, started_at, finished_at}.

    The numbers are the catalog's as they are now (`counts`: indexed, failed, pending; see
    `catalog.full_text_state`), so a document uploaded or failing after a backfill shows at
    once; the job only tells whether the documents stored before the upgrade are still being
    worked through (`backfilling`) and when that began and ended. Without a job (or after a
    cancelled one) the account is `idle`; `enabling` (the upgrade is known, its backfill not
    yet started here) comes first, so a fresh Premium account never reads a job of its past."""
    numbers = {
        "indexed": counts.get("indexed", 0),
        "failed": counts.get("failed", 0),
        "pending": counts.get("pending", 0),
    }
    numbers["total"] = sum(numbers.values())
    if enabling:
        return {"state": "enabling", **numbers, "started_at": None, "finished_at": None}
    if job is None or job.state == CANCELLED:
        return {"state": "idle", **numbers, "started_at": None, "finished_at": None}
    return {
        "state": "backfilling" if job.state == RUNNING else job.state,
        **numbers,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }

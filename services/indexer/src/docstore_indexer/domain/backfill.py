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


def progress(job: BackfillJob | None, *, live: int, indexed: int) -> dict[str, Any]:
    """What `GET /search/status` answers: {state, indexed, failed, total, started_at, finished_at}.

    Without a job (or after a cancelled one) the account is idle: `live` documents, `indexed`
    of them in the index."""
    if job is None or job.state == CANCELLED:
        return {
            "state": "idle",
            "indexed": indexed,
            "failed": 0,
            "total": live,
            "started_at": None,
            "finished_at": None,
        }
    return {
        "state": "backfilling" if job.state == RUNNING else job.state,
        "indexed": job.indexed,
        "failed": job.failed,
        "total": job.total,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }

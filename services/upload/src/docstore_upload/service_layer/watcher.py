"""The upload watcher: the completion path of last resort, and the late-write sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from docstore_messaging.tracing import continue_trace
from docstore_upload.service_layer.checks import Checks

log = structlog.get_logger(__name__)


async def watch(checks: Checks, interval: float) -> None:
    """Until cancelled: complete uploads whose object arrived, expire the ones that never will,
    delete what forms wrote after their upload finished, and drop the chunk maps of purged versions."""
    lease = timedelta(seconds=interval)
    while True:
        try:
            while await checks.sweep_late_writes():
                pass
            row = await checks.claim_due(lease)
            if row is None:
                await checks.sweep_chunk_maps()  # when idle: maps of purged versions go
                await asyncio.sleep(interval)
                continue
            # The check continues the trace of the request that granted the upload, so its
            # upload.completed or upload.expired event shows up in that trace.
            with continue_trace(row.get("traceparent"), "upload-watcher check", attributes={"upload.id": row["_id"]}):
                await checks.check(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("upload_watch_failed")
            await asyncio.sleep(interval)

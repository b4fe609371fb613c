"""An upload's trace starts at its grant and goes on in the watcher: `upload.expired` (or a late
`upload.completed`) joins the trace of the request that granted the upload."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from upload_fakes import OWNER, session_row, world

from docstore_events import UploadExpired
from docstore_upload.domain.grants import GrantRequest
from docstore_upload.service_layer.watcher import watch


def tracing() -> trace.Tracer:
    # Only the first provider set in a process sticks; any SDK one records spans.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    return trace.get_tracer("test")


def trace_id_of(traceparent: str | None) -> int:
    assert traceparent is not None
    return int(traceparent.split("-")[1], 16)


async def test_a_grant_stores_its_requests_trace_with_the_session() -> None:
    w = world()
    with tracing().start_as_current_span("POST /uploads") as request:
        issued = await w.grants.grant(OWNER, GrantRequest("notes.txt", 4, "text/plain"))
    stored = w.sessions.rows[issued.grant.upload_id]["traceparent"]
    assert trace_id_of(stored) == request.get_span_context().trace_id


async def test_the_watcher_expires_an_upload_in_the_trace_of_its_grant() -> None:
    with tracing().start_as_current_span("POST /uploads") as request:
        pass
    granted_in = f"00-{request.get_span_context().trace_id:032x}-{request.get_span_context().span_id:016x}-01"
    w = world(session_row(expires_at=datetime.now(UTC) - timedelta(seconds=1), traceparent=granted_in))
    watcher = asyncio.create_task(watch(w.checks, 0.01))
    try:
        async with asyncio.timeout(30):
            while not w.uow.emitted:
                await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    [expired], [traceparent] = w.uow.emitted, w.uow.traceparents
    assert isinstance(expired, UploadExpired)
    assert trace_id_of(traceparent) == request.get_span_context().trace_id
    assert traceparent != granted_in  # a span of the watcher's own, below the grant's


async def test_an_upload_granted_without_a_trace_still_expires_in_one() -> None:
    w = world(session_row(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    tracing()
    watcher = asyncio.create_task(watch(w.checks, 0.01))
    try:
        async with asyncio.timeout(30):
            while not w.uow.emitted:
                await asyncio.sleep(0.01)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert w.uow.traceparents[0] is not None  # the watcher's round started a trace

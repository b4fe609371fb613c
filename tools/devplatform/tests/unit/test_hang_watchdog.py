"""The hang watchdog: when a test counts as hung, and what it prints before ending the run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from types import SimpleNamespace

import pytest

from docstore_devplatform.hang_watchdog import HANG_EXIT_CODE, HANG_GRACE_SECONDS, HangWatchdog, hang_deadline


def item(ini_timeout: object, marker_timeout: float | None = None) -> pytest.Item:
    marker = SimpleNamespace(args=(marker_timeout,)) if marker_timeout is not None else None
    config = SimpleNamespace(getini=lambda name: ini_timeout)
    return SimpleNamespace(get_closest_marker=lambda name: marker, config=config)  # type: ignore[return-value]


def test_a_test_is_hung_its_grace_after_its_marker_or_the_ini_timeout() -> None:
    assert hang_deadline(item("300"), now=1000.0) == 1000.0 + 300 + HANG_GRACE_SECONDS
    assert hang_deadline(item("300", marker_timeout=900), now=0.0) == 900 + HANG_GRACE_SECONDS
    assert hang_deadline(item(""), now=0.0) is None
    assert hang_deadline(item("300", marker_timeout=0), now=0.0) is None


def test_the_report_names_the_test_and_shows_the_stuck_task_then_ends_the_run() -> None:
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def stuck_in_teardown() -> None:
        started.set()
        await asyncio.Event().wait()

    def run() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(stuck_in_teardown())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(60)
    out, exits = io.StringIO(), []
    try:
        HangWatchdog(out=out, exit=exits.append).report("tests/test_x.py::test_y")
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(60)
        if not thread.is_alive():
            loop.close()
    text = out.getvalue()
    assert "tests/test_x.py::test_y is hung" in text
    assert "stuck_in_teardown" in text
    assert exits == [HANG_EXIT_CODE]

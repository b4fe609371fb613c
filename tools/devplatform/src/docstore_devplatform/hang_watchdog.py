"""Ends a test run that hangs, with every thread's and every asyncio task's stack.

pytest-timeout's `signal` method (pyproject.toml) raises its failure wherever the main thread is
when the alarm comes. An async test stuck in its event loop is usually inside a loop callback or
a task step then: asyncio logs an exception raised in a callback and runs on, and a task can
catch it. So a test stuck in an async teardown outlived its limit by minutes without failing (seen
in stop 48: an indexer test's teardown waiting on a task whose cancellation was swallowed), and a
CI run would have hung until the job's 90-minute limit, printing nothing. pytest-timeout's
`thread` method would end the whole run at any slow test, even one the signal fails cleanly.

So the signal stays, and this registered plugin watches from a thread of its own: a test still
running `HANG_GRACE_SECONDS` after its timeout (the `timeout` marker, else the ini's) is hung.
The watchdog prints which test, every thread's stack (`faulthandler`) and the stack of every task
of every running event loop, and ends the process with `HANG_EXIT_CODE`.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

import pytest

HANG_GRACE_SECONDS = 120.0
HANG_EXIT_CODE = 3


def hang_deadline(item: pytest.Item, now: float) -> float | None:
    """When `item` counts as hung (a `time.monotonic()` value), or None when it has no timeout."""
    marker = item.get_closest_marker("timeout")
    raw = marker.args[0] if marker and marker.args else item.config.getini("timeout") or 0
    limit = float(raw)
    return now + limit + HANG_GRACE_SECONDS if limit > 0 else None


def describe_tasks(out: TextIO) -> int:
    """Print the stack of every task of every running event loop (read from another thread: a
    best effort, for a loop that is stuck anyway). Returns how many tasks were printed."""
    printed = 0
    loops = [obj for obj in gc.get_objects() if _is_loop(obj)]
    for loop in loops:
        try:
            tasks = list(asyncio.all_tasks(loop)) if loop.is_running() else []
        except Exception as error:  # another thread's loop changed under us: say so, go on
            print(f"--- {loop!r}: its tasks could not be read ({error!r})", file=out)
            continue
        for task in tasks:
            try:
                print(f"--- {task!r}", file=out)
                task.print_stack(limit=40, file=out)
                printed += 1
            except Exception as error:
                print(f"--- a task's stack could not be printed ({error!r})", file=out)
    return printed


def _is_loop(obj: object) -> bool:
    try:
        return isinstance(obj, asyncio.AbstractEventLoop)
    except ReferenceError:  # a weak proxy whose object is gone (isinstance asks it its class)
        return False


class HangWatchdog:
    """One daemon thread for the run; `watching` names the test it would call hung, and when."""

    def __init__(self, out: TextIO | None = None, exit: object = os._exit, config: pytest.Config | None = None) -> None:
        self.out = out
        self.config = config
        self.exit = exit
        self.watching: tuple[str, float] | None = None

    def start(self) -> HangWatchdog:
        threading.Thread(target=self._watch, name="hang-watchdog", daemon=True).start()
        return self

    def _watch(self) -> None:
        while True:
            time.sleep(5.0)
            current = self.watching
            if current is not None and time.monotonic() > current[1]:
                self.report(current[0])

    def report(self, nodeid: str) -> None:
        out = self.out
        if out is None:
            # pytest captures file descriptor 2 while a test runs: let go of it, or this is lost.
            capture = self.config.pluginmanager.getplugin("capturemanager") if self.config else None
            if capture is not None:
                capture.suspend_global_capture(in_=True)
            out = sys.stderr
        print(f"\n=== {nodeid} is hung: still running {HANG_GRACE_SECONDS:.0f} s past its timeout ===", file=out)
        out.flush()
        if self.out is None:
            faulthandler.dump_traceback(file=out, all_threads=True)
        print("=== the tasks of every running event loop ===", file=out)
        describe_tasks(out)
        out.flush()
        self.exit(HANG_EXIT_CODE)  # type: ignore[operator]


_watchdog: HangWatchdog | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _watchdog
    deadline = hang_deadline(item, time.monotonic())
    if deadline is not None and _watchdog is None:
        _watchdog = HangWatchdog(config=item.config).start()
    if _watchdog is not None:
        _watchdog.watching = (item.nodeid, deadline) if deadline is not None else None
    try:
        yield
    finally:
        if _watchdog is not None:
            _watchdog.watching = None

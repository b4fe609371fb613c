"""Polling until something is ready, failing with the log tail of the process behind it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from docstore_devplatform.procs import ManagedProcess

T = TypeVar("T")


class StartupError(RuntimeError):
    """A server or service did not become ready; the message carries its log tail."""


def wait_until(
    check: Callable[[], T],
    *,
    what: str,
    timeout: float,
    proc: ManagedProcess | None = None,
    interval: float = 0.1,
) -> T:
    """Call ``check`` until it returns without raising; return its result.

    Fails fast with :class:`StartupError` when ``proc`` exits, and after ``timeout``
    seconds with the last error seen; both messages include ``proc``'s log tail.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if proc is not None and not proc.alive():
            raise StartupError(f"{what}: process died before it was ready.\n{proc.describe_failure()}")
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"\n{proc.describe_failure()}" if proc is not None else ""
            raise StartupError(
                f"{what}: not ready after {timeout:.0f} s (last error: {last_error!r}){detail}"
            ) from last_error
        time.sleep(interval)

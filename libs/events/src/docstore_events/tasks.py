"""Stopping background tasks for sure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def stop_tasks(tasks: Iterable[asyncio.Task[Any] | None], *, grace: float = 10.0) -> None:
    """Cancel `tasks` and wait until each has finished. A task still running `grace` seconds
    later is cancelled again, every second: a cancellation that lands inside a library call can
    be swallowed there (seen in CI: metadata's link sweeper went back to its sleep, and the
    service's shutdown waited forever). The grace leaves a task's own clean-up (a `finally`
    that stops a consumer) time to finish first. What a task raised is dropped: it is stopping."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        await asyncio.wait({task}, timeout=grace)
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)

"""Stopping background tasks for sure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog


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


CONSUMER_STOP_SECONDS = 20.0
"""How long a Kafka consumer's own stop may take before its background tasks are cancelled."""


def consumer_tasks(consumer: Any) -> list[asyncio.Task[Any]]:
    """The background tasks of an aiokafka consumer: group coordination, heartbeats, offset
    refreshes and fetches. (aiokafka keeps them private; the names are those of the locked
    version, and a name it renames is just not found, so no task is missed silently: the
    `isolated` test fixture fails on any consumer task left running.)"""
    coordinator = getattr(consumer, "_coordinator", None)
    fetcher = getattr(consumer, "_fetcher", None)
    owners = [
        (coordinator, "_coordination_task"),
        (coordinator, "_heartbeat_task"),
        (coordinator, "_commit_refresh_task"),
        (fetcher, "_fetch_task"),
    ]
    found = [getattr(owner, name, None) for owner, name in owners if owner is not None]
    return [task for task in found if isinstance(task, asyncio.Task) and not task.done()]


async def stop_consumer(
    consumer: Any, stop: Callable[[], Awaitable[None]] | None = None, *, timeout: float = CONSUMER_STOP_SECONDS
) -> None:
    """Stop an aiokafka consumer (through `stop`, its owner's stop, or else its own) within
    `timeout` seconds, then cancel whatever of its background tasks still runs.

    aiokafka's stop waits for the group coordination routine to finish what it is doing, and a
    heartbeat task can outlive it. Both were seen in CI on a loaded machine: an indexer's shutdown
    waited on its coordinator until the test's 300-second limit, and an upload consumer's heartbeat
    outlived a finished stop. Nothing acknowledged depends on a polite stop: offsets are committed
    after each batch is applied, what follows the last commit is delivered again to the group's
    next member, and every handler is idempotent.
    """
    try:
        await asyncio.wait_for((stop or consumer.stop)(), timeout)
    except TimeoutError:
        structlog.get_logger(__name__).warning("kafka_consumer_stop_timed_out", seconds=timeout)
        client = getattr(consumer, "_client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)
    finally:
        await stop_tasks(consumer_tasks(consumer), grace=1.0)

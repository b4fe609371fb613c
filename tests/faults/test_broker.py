"""The broker killed with SIGKILL: during a burst of uploads, and while a consumer is stopped with
events waiting for it. The supervisor restarts it; its log (Tansu on ``s3://``) kept every record
and every committed offset, so every upload that answered "complete" reaches metadata, quota and
the indexer with no manual step. (With the log in memory the first loses what was in flight and
the second nearly everything; and before the supervisor restarted children, the broker stayed dead.)
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from docstore_devplatform.testing import eventually

from .conftest import Platform, Uploaded, assert_nothing_lost, broker_answers, premium_user, try_upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

BURST = 30
CONCURRENCY = 5


async def burst(
    api, user, tag: str, count: int, *, after: int | None = None, then=None, concurrency: int = CONCURRENCY
) -> list[Uploaded]:
    """`count` uploads, `concurrency` at a time; `then()` runs once `after` of them have completed."""
    gate = asyncio.Semaphore(concurrency)
    completed: list[Uploaded] = []
    fired = asyncio.Event()

    async def one(index: int) -> None:
        async with gate:
            done = await try_upload(api, user, index, tag)
        if done:
            completed.append(done)
            if then and after is not None and len(completed) >= after and not fired.is_set():
                fired.set()
                then()

    await asyncio.gather(*(one(i) for i in range(count)))
    if then and not fired.is_set():
        then()
    return completed


async def test_broker_killed_during_a_burst_of_uploads(platform: Platform, api) -> None:
    user = await premium_user(api)
    restarts = platform.restarts("kafka")
    killed: list[int] = []
    completed = await burst(
        api,
        user,
        "burst",
        BURST,
        after=BURST // 3,
        then=lambda: killed.append(platform.signal("kafka", signal.SIGKILL)),
    )
    assert killed and len(completed) >= BURST // 3
    await platform.wait_restarted("kafka", killed[0], restarts)
    await assert_nothing_lost(api, user, completed, "burst")


async def test_broker_killed_while_a_consumer_is_stopped_with_events_waiting(platform: Platform, api) -> None:
    user = await premium_user(api)
    await broker_answers(platform)
    stopped = platform.signal("metadata", signal.SIGSTOP)  # as a hung or paused process: no restart
    try:
        # All at once: each grant waits out upload's 5 s call to the stopped metadata (its names
        # check), so five at a time took four such waits (~30 s) for the same 20 waiting events.
        completed = await burst(api, user, "behind", 20, concurrency=20)
        assert len(completed) == 20

        async def counted() -> bool:  # the relay published them: quota, another consumer, saw them all
            usage = (await api.get("/v1/usage", headers=user.auth)).json()
            return usage["used_bytes"] == sum(u.size for u in completed)

        await eventually(counted, timeout=60, what="quota counting the uploads before the broker dies")
        restarts = platform.restarts("kafka")
        killed = platform.signal("kafka", signal.SIGKILL)
        await platform.wait_restarted("kafka", killed, restarts)
    finally:
        platform.signal("metadata", signal.SIGCONT)
    assert platform.pid("metadata") == stopped
    await assert_nothing_lost(api, user, completed, "behind")

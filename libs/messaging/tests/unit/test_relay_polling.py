"""The outbox relay's polling schedule: quick after activity, backing off while idle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from docstore_messaging.outbox import Outbox, OutboxRelay


class PollRecorder(OutboxRelay):
    """A relay whose database poll only records when it happened (and finds nothing)."""

    def __init__(self, outbox: Outbox, **options: Any) -> None:
        async def never_called(record: Any) -> None:
            raise AssertionError("nothing to publish")

        super().__init__(outbox, never_called, **options)
        self.polls: list[float] = []

    async def publish_pending(self) -> int:
        self.polls.append(time.monotonic())
        return 0


def make_relay(poll: float, max_poll: float) -> PollRecorder:
    outbox = Outbox({"outbox": None}, source="/test")  # type: ignore[arg-type]  # the collection is never used
    return PollRecorder(outbox, poll_interval=poll, max_poll_interval=max_poll)


async def wait_for_polls(relay: PollRecorder, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(relay.polls) < count:
        assert time.monotonic() < deadline, f"only {len(relay.polls)} polls"
        await asyncio.sleep(0.005)


async def test_idle_polls_back_off_up_to_the_maximum() -> None:
    relay = make_relay(poll=0.02, max_poll=0.16)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for_polls(relay, 7)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    gaps = [b - a for a, b in zip(relay.polls, relay.polls[1:], strict=False)]
    # 0.02, 0.04, 0.08, then capped at 0.16: every gap at least its schedule, the capped ones
    # no shorter than the cap (a loaded machine only makes gaps longer).
    for gap, planned in zip(gaps, [0.02, 0.04, 0.08, 0.16, 0.16, 0.16], strict=False):
        assert gap >= planned * 0.9
    assert sum(gaps) >= 0.6


async def test_a_local_write_wakes_the_relay_and_resets_the_interval() -> None:
    relay = make_relay(poll=0.05, max_poll=30.0)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for_polls(relay, 4)  # idle: the next poll is 0.4 s away, then 0.8 s
        woken_at = time.monotonic()
        relay.outbox.wake_relay()
        await wait_for_polls(relay, 5)
        assert relay.polls[4] - woken_at < 0.3  # at once, not at the next timeout
        await wait_for_polls(relay, 6)
        assert relay.polls[5] - relay.polls[4] < 0.3  # back to the short interval (0.05 s)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

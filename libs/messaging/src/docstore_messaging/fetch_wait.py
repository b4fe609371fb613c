"""A consumer's fetch wait: short while events flow, long while none come.

A Kafka fetch that finds no record waits up to `fetch_max_wait_ms` on the broker. Apache
Kafka answers it the moment a record arrives, so a long wait costs nothing there. The local
broker, Tansu 0.6, does not: a fetch that finds nothing re-reads every partition it asked
for after half the wait, then after half of what is left (W/2, 3W/4, 7W/8, ...), and answers
only then. A record that arrives during a wait is delivered up to W/2 later, and each idle
consumer costs the broker (and itself) a round of reads every few milliseconds.

`AdaptiveFetchWait` gives both: `busy_ms` (short: low latency) from start-up and as long as
fetches bring records, `idle_ms` (long: nearly no CPU) once none came for `idle_after_s`.
The first record after an idle spell waits at most `idle_ms / 2` on Tansu (on Kafka: no
more than with a short wait); every record after it is fetched with the short wait again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True)
class FetchWaitPolicy:
    """When a consumer fetches with the short wait and when with the long one."""

    busy_ms: int = 50
    idle_ms: int = 2000
    idle_after_s: float = 5.0

    def wait_ms(self, *, idle_for: float) -> int:
        """The fetch wait after `idle_for` seconds without a record."""
        return self.idle_ms if idle_for >= self.idle_after_s else self.busy_ms


class AdaptiveFetchWait:
    """Switches one aiokafka consumer between `policy.busy_ms` and `policy.idle_ms`.

    aiokafka reads the wait from its fetcher each time it builds a fetch request and has no
    public setter, so `attach` wraps the fetcher's response handler (aiokafka 0.14 names it
    `_proc_fetch_request`; it returns True when the response held records) and sets the
    fetcher's `_fetch_max_wait_ms` before the next request is built.
    """

    def __init__(self, policy: FetchWaitPolicy, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.last_records_at = clock()
        self.current_ms = policy.busy_ms

    def observe(self, got_records: bool) -> int:
        """Note one fetch response; return the wait the next fetch should use."""
        now = self.clock()
        if got_records:
            self.last_records_at = now
        self.current_ms = self.policy.wait_ms(idle_for=now - self.last_records_at)
        return self.current_ms

    def attach(self, consumer: AIOKafkaConsumer) -> None:
        """Drive `consumer`'s fetch wait (call after `consumer.start()`)."""
        fetcher: Any = consumer._fetcher  # noqa: SLF001 - see the class docstring
        if fetcher is None or not hasattr(fetcher, "_proc_fetch_request"):
            raise RuntimeError("AdaptiveFetchWait needs a started aiokafka 0.14 consumer")
        handle: Callable[..., Awaitable[bool]] = fetcher._proc_fetch_request
        self.last_records_at = self.clock()
        fetcher._fetch_max_wait_ms = self.current_ms = self.policy.busy_ms

        async def proc_fetch_request(*args: Any, **kwargs: Any) -> bool:
            got_records = await handle(*args, **kwargs)
            fetcher._fetch_max_wait_ms = self.observe(bool(got_records))
            return got_records

        fetcher._proc_fetch_request = proc_fetch_request

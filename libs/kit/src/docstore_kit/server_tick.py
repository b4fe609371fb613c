"""uvicorn's server loop, ticking once a second instead of ten times.

uvicorn's `Server.main_loop` sleeps 0.1 s between ticks. A tick refreshes the `date` header
(once a second: every tenth tick) and looks whether the server should stop (a signal set
`should_exit`, or `--limit-max-requests` was reached). So an idle service process woke ten times
a second for it. `quiet_server_tick` makes every tick a second long and refreshes the header at
each one: the header is as fresh as before, and a stop is noticed within a second instead of a
tenth (the graceful shutdown starts up to 1 s after SIGTERM; Kubernetes allows 30 s).

With aiokafka's quieter fetch routine (docstore_messaging.consumer.FETCH_ROUTINE_WAKE_MS) it took
the idle services' CPU from 0.113-0.133 cores to 0.084-0.088 (20 processes, `bench/idle.py
--broker-storage memory --test-settings`, 2026-11-30).

uvicorn makes the `Server` before it calls a service's app factory, and calls `main_loop` after
it, so the factory (`service_app`) replaces the method on the class: every entry point (`uvicorn
... --factory`, the gateway's `uvicorn.run`) gets it. `tests/unit/test_server_tick.py` fails if
uvicorn's own loop stops being the one replaced here (an upgrade must be looked at again)."""

from __future__ import annotations

import asyncio
from typing import Any

TICK_SECONDS = 1.0
UVICORN_TICKS_PER_SECOND = 10
"""uvicorn refreshes the date header when its tick counter is a multiple of this."""


async def _main_loop(self: Any) -> None:
    """uvicorn's `Server.main_loop` with a tick of `TICK_SECONDS`; the counter steps by a second's
    worth of uvicorn's ticks, so `on_tick` refreshes the date header at every one."""
    counter = 0
    should_exit = await self.on_tick(counter)
    while not should_exit:
        counter = (counter + UVICORN_TICKS_PER_SECOND) % 864_000
        await asyncio.sleep(TICK_SECONDS)
        should_exit = await self.on_tick(counter)


def quiet_server_tick() -> None:
    """Make uvicorn's server tick once a second (idempotent)."""
    from uvicorn.server import Server

    Server.main_loop = _main_loop  # type: ignore[method-assign]

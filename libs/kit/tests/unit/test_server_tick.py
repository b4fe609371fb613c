"""uvicorn's server loop ticks once a second (docstore_kit.server_tick) and does what uvicorn's
own loop did at each tick: refresh the date header, and stop once `should_exit` is set."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import uvicorn
from uvicorn.server import Server

from docstore_kit import server_tick
from docstore_kit.server_tick import TICK_SECONDS, quiet_server_tick


def test_the_replaced_loop_is_uvicorns_ten_ticks_a_second() -> None:
    # An upgrade of uvicorn that changes its loop fails here: look at it before keeping the patch.
    # uvicorn's own source (the class as its file has it, whether or not a service app in this
    # process has replaced the method since).
    source = inspect.getsource(Server)
    main_loop = source[source.index("async def main_loop") : source.index("async def on_tick")]
    assert "await asyncio.sleep(0.1)" in main_loop and "await self.on_tick(counter)" in main_loop, main_loop
    assert "counter % 10 == 0" in source[source.index("async def on_tick") :]


async def test_each_tick_is_a_second_refreshes_the_date_and_the_loop_stops_on_should_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet_server_tick()
    quiet_server_tick()  # idempotent
    assert Server.main_loop is server_tick._main_loop
    server = Server(uvicorn.Config(app=lambda scope, receive, send: None))
    server.server_state.default_headers = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            server.should_exit = True

    monkeypatch.setattr(server_tick.asyncio, "sleep", sleep)
    refreshed: list[int] = []
    on_tick = server.on_tick

    async def counting_on_tick(counter: int) -> bool:
        refreshed.append(counter)
        server.server_state.default_headers = []
        should_exit = await on_tick(counter)
        assert any(name == b"date" for name, _ in server.server_state.default_headers), "no date header"
        return should_exit

    server.on_tick = counting_on_tick  # type: ignore[method-assign]
    await asyncio.wait_for(server.main_loop(), 5)
    assert slept == [TICK_SECONDS] * 3
    assert refreshed == [0, 10, 20, 30]

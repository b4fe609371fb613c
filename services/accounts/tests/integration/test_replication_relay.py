"""The replication relay against a region that is down, on the real database: the region rests
between probes, so while it is down each try writes one queued row, not every row of the queue;
when it is back, one probe goes first and the rest of the queue follows at once, each account
delivered once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pymongo import AsyncMongoClient

from docstore_accounts.adapters.replication import ReplicationQueue, ReplicationRelay, ReplicaWrites
from docstore_devplatform.ports import free_ports

pytestmark = pytest.mark.integration

QUEUED = 30
CONCURRENCY = 4
SHORT_BACKOFF = {"retry_initial": 0.01, "retry_max": 0.02}
"""Backoffs of a few hundredths of a second: a wait of 0.05 s lets every one of them pass."""


@pytest_asyncio.fixture
async def queue(endpoints: Any) -> AsyncIterator[ReplicationQueue]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    name = f"relay_{uuid.uuid4().hex[:12]}"
    try:
        yield ReplicationQueue(client[name], {"b": f"http://127.0.0.1:{free_ports(1)[0]}"})
    finally:
        await client.drop_database(name)
        await client.close()


async def attempts(queue: ReplicationQueue) -> int:
    """Every write a failure made to the queue's rows (each adds one attempt)."""
    rows = await queue.rows.find({}, {"attempts": 1}).to_list(None)
    return sum(row.get("attempts", 0) for row in rows)


async def region_b(port: int, received: list[str]) -> web.AppRunner:
    """Region B's replica route, answering 200 and noting the account."""

    async def put(request: web.Request) -> web.Response:
        received.append(request.match_info["account_id"])
        return web.json_response({"stored": True})

    app = web.Application()
    app.router.add_put("/internal/replicas/{account_id}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_a_region_that_is_down_costs_one_write_per_probe_and_catches_up_when_back(
    queue: ReplicationQueue,
) -> None:
    writes = ReplicaWrites(queue.rows.database, queue.peers)
    ids = [f"acct-{n:02d}" for n in range(QUEUED)]
    for account_id in ids:
        await writes.enqueue(account_id, {"username": account_id, "home_region": "a", "version": 1})
    relay = ReplicationRelay(queue, secret="s", concurrency=CONCURRENCY, **SHORT_BACKOFF)

    # Down: the first batch tries at most a gate's worth of rows before the failure is seen.
    assert await relay.send_batch() == 0
    first = await attempts(queue)
    assert 1 <= first <= CONCURRENCY
    probes = 5
    for _ in range(probes):
        await asyncio.sleep(0.05)  # the region's rest and every row's backoff have passed
        assert await relay.send_batch() == 0
    # One row per probe; the relay used to write every due row of the queue each time.
    assert await attempts(queue) == first + probes
    assert await queue.pending() == QUEUED

    received: list[str] = []
    peer = await region_b(int(queue.peers["b"].rsplit(":", 1)[1]), received)
    try:
        await asyncio.sleep(0.05)
        queue.written.clear()
        assert await relay.send_batch() == 1  # the probe alone
        assert queue.written.is_set()  # the rest of the queue goes at once, not at the next poll
        await asyncio.sleep(0.05)  # the backoffs of the rows that failed while it was down
        assert await relay.send_batch() == QUEUED - 1
        assert await queue.pending() == 0
        assert sorted(received) == ids
    finally:
        await peer.cleanup()
        for client in relay.clients.values():
            await client.aclose()

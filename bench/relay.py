"""The outbox relay's throughput: pending rows published per second, one acknowledgement awaited
per record (the baseline, as the relay sent them before) against a batch's records sent together
and their acknowledgements awaited after (`EventRuntime.send`), on the durable broker log (`s3://`)
and in memory, in one run.

Each measurement writes `--events` `upload.completed` rows into an outbox (one transaction per 100,
as a busy service's commits leave them), then times the relay until every row is published.

    uv run python bench/relay.py [--events 2000] [--broker-storage both|s3|memory] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymongo import AsyncMongoClient

from docstore_devplatform.servers import Servers
from docstore_events import UploadCompleted, all_topics
from docstore_messaging.outbox import Outbox, OutboxRelay
from docstore_messaging.runtime import EventRuntime


def event(n: int) -> UploadCompleted:
    return UploadCompleted(
        account_id=str(uuid.uuid4()),
        upload_id=str(uuid.uuid4()),
        document_id=str(uuid.uuid4()),
        bucket="docstore-us-west-2",
        key=f"us-west-2/a/d/{n}",
        size=10_240,
        content_type="text/plain",
        filename=f"f-{n}.txt",
        etag="0" * 32,
        sha256="0" * 64,
    )


async def fill(client: AsyncMongoClient, outbox: Outbox, count: int) -> None:
    for start in range(0, count, 100):
        async with client.start_session() as session, await session.start_transaction():
            await outbox.add_all([(event(n), None) for n in range(start, min(count, start + 100))], session=session)


async def drain(relay: OutboxRelay) -> None:
    while await relay.publish_pending():
        pass


async def measure(endpoints, storage: str, count: int) -> dict[str, float | str]:
    client: AsyncMongoClient = AsyncMongoClient(endpoints.mongo_url)
    db = client[f"bench_relay_{uuid.uuid4().hex[:8]}"]
    runtime = EventRuntime(service="bench", region="us-west-2", bootstrap_servers=endpoints.kafka_bootstrap, db=db)
    await runtime.start()
    figures: dict[str, float | str] = {"bench": "relay", "broker_storage": storage, "events": count}
    try:
        modes: dict[str, Callable[..., Awaitable[object]]] = {"one_at_a_time": runtime.publish, "batched": runtime.send}
        for name, publish in modes.items():
            await fill(client, runtime.outbox, count)
            relay = OutboxRelay(runtime.outbox, publish)
            started = time.perf_counter()
            await drain(relay)
            took = time.perf_counter() - started
            figures[f"{name}_events_per_s"] = round(count / took, 1)
            print(f"  {storage:6} {name:14} {count / took:9.1f} events/s", file=sys.stderr)
        figures["ratio_batched"] = round(
            float(figures["batched_events_per_s"]) / float(figures["one_at_a_time_events_per_s"]), 2
        )
    finally:
        await runtime.stop()
        await client.drop_database(db.name)
        await client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--broker-storage", choices=["both", "s3", "memory"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for storage in ["s3", "memory"] if args.broker_storage == "both" else [args.broker_storage]:
        with tempfile.TemporaryDirectory(prefix="docstore-bench-relay-") as folder:
            servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), broker_storage=storage)
            endpoints = servers.start()
            try:
                results.append(asyncio.run(measure(endpoints, storage, args.events)))
            finally:
                servers.stop()
    if args.json:
        for figures in results:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()

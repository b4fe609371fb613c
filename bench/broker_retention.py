"""What the broker log's retention wins back (issue 32): a consumer's fetch on a partition whose
``s3://`` log holds many batches, before and after the supervisor's retention sweep
(`docstore_devplatform.broker_retention`).

Tansu 0.6's Fetch lists every batch object of the partition on each read. This bench starts the
servers with the durable broker, produces `--batches` records one at a time into one partition
(one batch object each), commits a group before the last record, then times `--reads` times
how long that group, resuming, takes to get it, before and after the sweep deletes what every
group has read. The baseline
is the same fetch on the full log, in the same run.

    uv run python bench/broker_retention.py [--batches 1000] [--reads 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from docstore_devplatform import broker_retention, probes
from docstore_devplatform.launch import KAFKA_LOG_BUCKET
from docstore_devplatform.servers import Servers

TOPIC = "bench.retention"


async def produce(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(TOPIC, f"r{i}".encode())
    finally:
        await producer.stop()


async def commit(bootstrap: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="reader", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def fetch_ms(bootstrap: str, tp: TopicPartition, reads: int) -> list[float]:
    """Milliseconds for the group `reader`, resuming at its committed offset, to get its record:
    `reads` times, each a consumer of its own (assign, then fetch until the record is there)."""
    took: list[float] = []
    for _ in range(reads):
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id="reader", enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            started = time.perf_counter()
            got: list = []
            async with asyncio.timeout(60):  # a broker that stopped answering fails the bench
                while not got:
                    got = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
            took.append((time.perf_counter() - started) * 1000)
        finally:
            await consumer.stop()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=[], broker_storage="s3")
        endpoints = servers.start()
        try:
            bootstrap = endpoints.kafka_bootstrap
            probes.create_topics(bootstrap, [TOPIC], partitions=1)
            tp = TopicPartition(TOPIC, 0)
            asyncio.run(produce(bootstrap, args.batches))
            last = args.batches - 1
            asyncio.run(commit(bootstrap, tp, last))
            before = asyncio.run(fetch_ms(bootstrap, tp, args.reads))
            store = probes.s3_client(
                f"http://127.0.0.1:{servers.ports.kafka_log_s3}", endpoints.s3_access_key, endpoints.s3_secret_key
            )
            started = time.perf_counter()
            deleted = broker_retention.sweep(
                store, KAFKA_LOG_BUCKET, retention=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=5)
            )
            sweep_s = time.perf_counter() - started
            after = asyncio.run(fetch_ms(bootstrap, tp, args.reads))
        finally:
            servers.stop()
    figures = {
        "bench": "broker_retention",
        "batches": args.batches,
        "deleted": deleted,
        "sweep_s": round(sweep_s, 2),
        "fetch_p50_ms_full_log": round(statistics.median(before), 1),
        "fetch_p50_ms_after_sweep": round(statistics.median(after), 1),
        "ratio": round(statistics.median(before) / statistics.median(after), 2),
    }
    print(
        f"a group resuming at its committed offset, its record after p50 {figures['fetch_p50_ms_full_log']} ms with {args.batches} batches, "
        f"{figures['fetch_p50_ms_after_sweep']} ms after the sweep deleted {deleted} ({sweep_s:.1f} s); "
        f"{figures['ratio']}x",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

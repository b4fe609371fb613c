"""CPU that consumers waiting for events cost Tansu and themselves, per fetch wait, and what the
wait costs one record's latency.

Tansu 0.6 answers a fetch that finds nothing only after re-reading every partition it asked for
at its end (and halfway through what is left while that is 250 ms or more: docs/ARCHITECTURE.md,
"Long polls and idle cost"), and a produce does not wake it, so a consumer polling with a short
wait keeps the broker reading. This bench starts Tansu alone (as the local platform does,
`docstore_devplatform.launch.tansu_argv`), creates `--topics` topics of `--partitions` partitions
(3, as the test systems have; the local platform has 1), and for each wait runs `--consumers`
aiokafka consumers (their own groups, every topic) polling with nothing to read, then measures
over `--seconds` the CPU of Tansu and of this process (the consumers); then it sends `--records`
records one at a time, at random moments, and times each from its acknowledged produce to a
consumer polling with that wait holding it. The baseline is the services' default busy wait,
20 ms (`kafka_fetch_max_wait_ms`), measured in the same run; the figures for the longer waits are
ratios to it. The test systems use 240 ms (`docstore_devplatform.e2e.TEST_SYSTEM_KAFKA_ENV`).

    uv run python bench/broker_reads.py [--consumers 6] [--topics 12] [--partitions 3] [--seconds 8]
        [--waits 50,100,200,240,500] [--records 30] [--json]

With `--json` the last line of stdout is one JSON object:
{"bench": "broker_reads", "waits": {"20": {"tansu_cores": ..., "consumer_cores": ...,
"latency_p50_ms": ..., "latency_p90_ms": ..., "latency_max_ms": ...}, ...}, ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from idle import read_times

from docstore_devplatform.launch import ServerPorts, tansu_argv
from docstore_devplatform.paths import find_binaries
from docstore_devplatform.probes import check_kafka, create_topics
from docstore_devplatform.waiting import wait_until

BASELINE_MS = 20
WAITS_MS = (BASELINE_MS, 50, 100, 200, 240, 500)
"""240 ms: the longest wait Tansu reads only twice for (at the start and at the end; from 250 ms
on it reads again halfway through whatever is left above 250 ms)."""


def cpu_seconds(pid: int) -> float:
    """The CPU seconds `pid` has used (idle.py's reading of /proc); `pid` must be running."""
    times = read_times(pid)
    if times is None:
        raise RuntimeError(f"process {pid} is gone")
    return times.own


async def measure(bootstrap: str, tansu_pid: int, topics: list[str], wait_ms: int, consumers: int, seconds: float):
    """Cores Tansu and this process use while `consumers` poll `topics` with `wait_ms`."""
    started = []
    for n in range(consumers):
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=f"bench-{wait_ms}-{n}", fetch_max_wait_ms=wait_ms
        )
        await consumer.start()
        started.append(consumer)

    async def poll(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=1000)

    polls = [asyncio.create_task(poll(consumer)) for consumer in started]
    try:
        await asyncio.sleep(4)  # the groups' joins (Tansu holds each for half the session timeout) are over
        broker0, own0, clock0 = cpu_seconds(tansu_pid), cpu_seconds(os.getpid()), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - clock0
        broker, own = cpu_seconds(tansu_pid) - broker0, cpu_seconds(os.getpid()) - own0
    finally:
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for consumer in started:
            await consumer.stop()
    return {"tansu_cores": round(broker / elapsed, 3), "consumer_cores": round(own / elapsed, 3)}


async def latency(bootstrap: str, topic: str, wait_ms: int, records: int) -> dict[str, float]:
    """The other side of the trade: milliseconds from a record's acknowledged produce to a consumer
    polling with `wait_ms` holding it, for `records` records sent one at a time at random moments
    (so each lands somewhere in a fetch's wait, as an event of a running system does)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bench-latency-{wait_ms}", fetch_max_wait_ms=wait_ms
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        await wait_for_assignment(consumer)
        rng = random.Random(wait_ms)
        took = []
        for _ in range(records):
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            await producer.send_and_wait(topic, b"x")
            sent = time.monotonic()
            while not any((await consumer.getmany(timeout_ms=5000)).values()):
                pass
            took.append((time.monotonic() - sent) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    took.sort()
    return {
        "latency_p50_ms": round(statistics.median(took), 1),
        "latency_p90_ms": round(took[int(len(took) * 0.9)], 1),
        "latency_max_ms": round(took[-1], 1),
    }


async def wait_for_assignment(consumer: AIOKafkaConsumer) -> None:
    """Until the group's join gave `consumer` its partitions, and it holds their current ends."""
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    await consumer.seek_to_end()


async def run(args: argparse.Namespace, bootstrap: str, tansu_pid: int, topics: list[str]) -> dict[int, dict]:
    """`measure` and `latency` at the baseline, then at every wait of `args.waits`."""
    figures = {}
    for wait in dict.fromkeys([BASELINE_MS, *args.waits]):
        figures[wait] = await measure(bootstrap, tansu_pid, topics, wait, args.consumers, args.seconds)
        if args.records:
            figures[wait] |= await latency(bootstrap, topics[0], wait, args.records)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consumers", type=int, default=6)
    parser.add_argument("--topics", type=int, default=12)
    parser.add_argument("--partitions", type=int, default=3, help="partitions of each topic")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--waits",
        type=lambda text: [int(w) for w in text.split(",")],
        default=list(WAITS_MS[1:]),
        help="fetch waits in ms to measure after the baseline, comma-separated",
    )
    parser.add_argument(
        "--records", type=int, default=30, help="records sent one at a time to time each wait's latency (0: none)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    ports = ServerPorts.auto()
    # The log in memory, as the test systems keep it: the bench measures the reads, not the store.
    tansu = subprocess.Popen(
        tansu_argv(find_binaries(), ports, "memory"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    bootstrap = f"127.0.0.1:{ports.kafka}"
    topics = [f"bench-reads-{n}" for n in range(args.topics)]
    try:
        wait_until(lambda: check_kafka(bootstrap), what="Tansu", timeout=30)
        create_topics(bootstrap, topics, partitions=args.partitions)
        figures = asyncio.run(run(args, bootstrap, tansu.pid, topics))
    finally:
        tansu.terminate()
        tansu.wait(10)
    base = figures[BASELINE_MS]
    base_total = base["tansu_cores"] + base["consumer_cores"]
    print(
        f"{args.consumers} consumers, {args.topics} topics x {args.partitions} partitions, nothing to read, {args.seconds:g} s each"
    )
    print(
        f"{'fetch wait':>10}  {'Tansu':>7}  {'consumers':>9}  {'total':>7}  vs {BASELINE_MS} ms"
        f"  one record's latency p50 / p90 / max (ms)"
    )
    for wait, figure in figures.items():
        total = figure["tansu_cores"] + figure["consumer_cores"]
        figure["ratio_to_baseline"] = round(total / base_total, 2) if base_total else 0.0
        took = (
            f"  {figure['latency_p50_ms']:>7.1f} / {figure['latency_p90_ms']:.1f} / {figure['latency_max_ms']:.1f}"
            if "latency_p50_ms" in figure
            else ""
        )
        print(
            f"{wait:>7} ms  {figure['tansu_cores']:>7.3f}  {figure['consumer_cores']:>9.3f}  {total:>7.3f}"
            f"  {figure['ratio_to_baseline']:>5.2f}x{took}"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "broker_reads",
                    "consumers": args.consumers,
                    "topics": args.topics,
                    "partitions": args.partitions,
                    "seconds": args.seconds,
                    "records": args.records,
                    "baseline_ms": BASELINE_MS,
                    "waits": {str(wait): figure for wait, figure in figures.items()},
                }
            )
        )


if __name__ == "__main__":
    main()

"""Replication lag: sign-up in region A -> the replica visible in region B, p50/p99 over 1,000 sign-ups.

Starts the real servers (free ports, a temporary folder) and `metadata` of two regions as
processes (us-west-2 and ap-southeast-2, one broker with B's topics under `ap-southeast-2.`,
one MongoDB with each region's own database), wired to each other as `scripts/up` does. Then:
  * baseline: the raw work one replica write needs, done by hand: an HTTP PUT of a replica
    to B's `/internal/replicas/{id}` and a read of it from B's database, one after the other;
  * replication: N sign-ups (`POST /accounts` on A's metadata, a few in flight); for each, the
    clock runs from its 201 response to the moment a change stream on B's `replicas`
    collection reports the replica.
Prints p50/p99 of both and the ratio replication/baseline.

    uv run python bench/replication.py [--signups 1000] [--concurrency 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from figures import percentile
from pymongo import AsyncMongoClient

from docstore_devplatform.ports import free_ports
from docstore_devplatform.servers import Servers
from docstore_devplatform.services import DEV_REPLICATION_SECRET, ServiceProcesses, region_wiring, service_urls
from docstore_events import all_topics

A, B = "us-west-2", "ap-southeast-2"


async def baseline(b_metadata: str, b_db, count: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=b_metadata, headers={"X-Replication-Secret": DEV_REPLICATION_SECRET}) as http:
        for _ in range(count):
            account_id = f"bench-raw-{uuid.uuid4().hex}"
            started = time.perf_counter()
            response = await http.put(
                f"/internal/replicas/{account_id}",
                json={
                    "username": f"raw-{uuid.uuid4().hex[:12]}",
                    "home_region": A,
                    "plan": "free",
                    "status": "active",
                    "version": 1,
                },
            )
            response.raise_for_status()
            assert await b_db.replicas.find_one({"_id": account_id}) is not None
            times.append(time.perf_counter() - started)
    return times


async def replication(a_metadata: str, b_db, signups: int, concurrency: int) -> list[float]:
    responded: dict[str, float] = {}
    seen: dict[str, float] = {}
    done_signing = asyncio.Event()

    async def watch() -> None:
        """B's `replicas` inserts as they commit (a change stream: no polling load on the database)."""
        async with await b_db.replicas.watch(
            [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]
        ) as stream:
            ready.set()
            async for change in stream:
                seen.setdefault(change["documentKey"]["_id"], time.perf_counter())

    ready = asyncio.Event()
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=a_metadata, timeout=60.0) as http:

        async def sign_up(i: int) -> None:
            name = f"b{i}-{uuid.uuid4().hex[:10]}"
            async with gate:
                response = await http.post(
                    "/accounts",
                    json={"username": name, "email": f"{name}@example.com", "password": "benchmark password"},
                )
                response.raise_for_status()
                responded[response.json()["account_id"]] = time.perf_counter()

        poller = asyncio.create_task(watch())
        await ready.wait()
        started = time.perf_counter()
        await asyncio.gather(*(sign_up(i) for i in range(signups)))
        signing = time.perf_counter() - started
        done_signing.set()
        deadline = time.perf_counter() + 600
        while not all(account_id in seen for account_id in responded) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        poller.cancel()
        print(
            f"  {signups} sign-ups in {signing:.1f} s ({signups / signing:.0f}/s); all replicated "
            f"{max(seen.values()) - started:.1f} s after the first",
            flush=True,
        )
    return [seen[account_id] - responded[account_id] for account_id in responded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--baseline", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        data = Path(tmp)
        topics = all_topics() + all_topics(f"{B}.")
        with Servers(data / "servers", topics=topics, buckets=[f"docstore-{A}", f"docstore-{B}"]) as endpoints:
            urls = {
                region: service_urls(dict(zip(["metadata", "gateway"], free_ports(2), strict=True)))
                for region in (A, B)
            }
            regions = []
            for region in (A, B):
                processes = ServiceProcesses(
                    endpoints,
                    data / region,
                    region=region,
                    names=["metadata"],
                    ports={"metadata": int(urls[region]["metadata"].rsplit(":", 1)[1])},
                    extra_env=region_wiring(urls, region, primary=A) | {"LOG_LEVEL": "WARNING"},
                )
                processes.start()
                regions.append(processes)
            try:
                asyncio.run(run(urls, endpoints.mongo_url, args))
            finally:
                for processes in regions:
                    processes.stop()


async def run(urls: dict, mongo_url: str, args: argparse.Namespace) -> None:
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    b_db = mongo[f"docstore_metadata_{B.replace('-', '_')}"]
    try:
        print(f"baseline: {args.baseline} raw replica PUTs to B's metadata + read from B's database", flush=True)
        raw = await baseline(urls[B]["metadata"], b_db, args.baseline)
        print(f"replication: {args.signups} sign-ups in {A}, {args.concurrency} in flight", flush=True)
        lags = await replication(urls[A]["metadata"], b_db, args.signups, args.concurrency)
        # The same lag by the servers' own clocks (one machine): account created in A -> replica written in B.
        a_db = mongo[f"docstore_metadata_{A.replace('-', '_')}"]
        created = {row["_id"]: row["created_at"] async for row in a_db.accounts.find({}, {"created_at": 1})}
        server = [
            (row["replicated_at"] - created[row["_id"]]).total_seconds()
            async for row in b_db.replicas.find({}, {"replicated_at": 1})
            if row["_id"] in created
        ]
    finally:
        await mongo.close()
    raw_p50, raw_p99 = percentile(raw, 50) * 1000, percentile(raw, 99) * 1000
    p50, p99 = percentile(lags, 50) * 1000, percentile(lags, 99) * 1000
    print()
    print(f"{'':<34}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'baseline (raw PUT + read)':<34}{raw_p50:>10.1f}{raw_p99:>10.1f}")
    print(f"{'replication lag (201 -> in B)':<34}{p50:>10.1f}{p99:>10.1f}   mean {statistics.mean(lags) * 1000:.1f}")
    print(
        f"{'  by server clocks (created->held)':<34}{percentile(server, 50) * 1000:>10.1f}{percentile(server, 99) * 1000:>10.1f}"
    )
    print(f"{'ratio replication / baseline':<34}{p50 / raw_p50:>10.1f}{p99 / raw_p99:>10.1f}")
    if args.json:
        figures = {
            "bench": "replication",
            "signups": args.signups,
            "raw_p50_ms": round(raw_p50, 2),
            "raw_p99_ms": round(raw_p99, 2),
            "lag_p50_ms": round(p50, 2),
            "lag_p99_ms": round(p99, 2),
            "ratio_p50": round(p50 / raw_p50, 2),
            "ratio_p99": round(p99 / raw_p99, 2),
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

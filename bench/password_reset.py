"""Password reset: does the answer's time tell whether an account exists? (issue 20)

Starts the real servers (free ports, a temporary folder) and `metadata` as a process, signs up
N accounts, then asks `POST /account/password-reset` alternately for a known account and for a
name nobody holds (each name once, so neither is throttled), one request at a time, and again
for one known and one unknown name asked repeatedly (both throttled after the third). Prints
p50/p90/mean of each and the ratio known/unknown: the unknown answer is this run's baseline.
A ratio near 1.0 (within the run-to-run spread of the same path) is what the equal work aims at.

    uv run python bench/password_reset.py [--accounts 60] [--json]
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

from docstore_devplatform.ports import free_ports
from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses, service_urls
from docstore_events import all_topics

REGION = "us-west-2"


async def timed(client: httpx.AsyncClient, name: str) -> float:
    started = time.perf_counter()
    answer = await client.post("/account/password-reset", json={"username_or_email": name})
    elapsed = time.perf_counter() - started
    assert answer.status_code == 202, answer.text
    return elapsed


async def run(metadata: str, accounts: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=metadata, timeout=60.0) as client:
        names = []
        for _ in range(accounts):
            name = f"bench{uuid.uuid4().hex[:10]}"
            created = await client.post(
                "/accounts",
                json={"username": name, "email": f"{name}@example.com", "password": f"correct horse {uuid.uuid4()}"},
            )
            assert created.status_code == 201, created.text
            names.append(name)
        for warm in range(5):  # connections, first argon2 thread, first transaction
            await timed(client, f"warm{warm}{uuid.uuid4().hex[:6]}")
        times: dict[str, list[float]] = {"known": [], "unknown": [], "known_throttled": [], "unknown_throttled": []}
        for name in names:  # alternate, so drift in the machine's load falls on both alike
            times["known"].append(await timed(client, name))
            times["unknown"].append(await timed(client, f"nobody{uuid.uuid4().hex[:10]}"))
        ghost = f"ghost{uuid.uuid4().hex[:10]}"
        for _ in range(3):  # use up both hours' three mails
            await timed(client, names[0])
            await timed(client, ghost)
        for _ in range(accounts):
            times["known_throttled"].append(await timed(client, names[0]))
            times["unknown_throttled"].append(await timed(client, ghost))
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        data = Path(tmp)
        with Servers(data / "servers", topics=all_topics(), buckets=[f"docstore-{REGION}"]) as endpoints:
            [port] = free_ports(1)
            urls = service_urls({"metadata": port})
            processes = ServiceProcesses(
                endpoints,
                data / REGION,
                region=REGION,
                names=["metadata"],
                ports={"metadata": port},
                extra_env={"LOG_LEVEL": "WARNING"},
            )
            processes.start()
            try:
                times = asyncio.run(run(urls["metadata"], args.accounts))
            finally:
                processes.stop()
    figures: dict[str, object] = {"bench": "password_reset", "requests_each": args.accounts}
    print(f"\n{'':<28}{'p50 ms':>10}{'p90 ms':>10}{'mean ms':>10}")
    for kind, values in times.items():
        p50, p90, mean = (percentile(values, 50) * 1000, percentile(values, 90) * 1000, statistics.mean(values) * 1000)
        print(f"{kind:<28}{p50:>10.1f}{p90:>10.1f}{mean:>10.1f}")
        figures[f"{kind}_p50_ms"], figures[f"{kind}_mean_ms"] = round(p50, 2), round(mean, 2)
    for suffix in ("", "_throttled"):
        ratio = percentile(times[f"known{suffix}"], 50) / percentile(times[f"unknown{suffix}"], 50)
        print(f"ratio known/unknown{suffix or ' (fresh names)'} p50: {ratio:.2f}")
        figures[f"ratio{suffix}_p50"] = round(ratio, 2)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

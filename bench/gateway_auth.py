"""What the gateway adds to a request with a bearer token: its latency and its database commands (issue 36).

Starts the real servers (free ports, a temporary folder) and the `accounts` and `gateway` services
as processes, signs up one account and logs in through the gateway, then times one request at a
time, interleaved (so drift in the machine's load falls on all alike):

  gateway   `GET /v1/account` with `Authorization: Bearer <token>`: the gateway checks the token
            and forwards to accounts with a signed identity token
  direct    the same route at accounts (`GET /account`), called as the gateway calls it (a
            signed identity token): the floor the gateway adds to
  healthz   the gateway's `GET /healthz` (no token, no upstream): the HTTP floor of one hop

and prints p50/p99 of each and the gateway's added latency (gateway - direct). Then a phase of
`gateway` requests alone, with the database server's counters read before and after: commands per
request in the gateway's own database (`top`, by collection) and in all (`serverStatus`
opcounters, every process's background loops included), and the CPU time the gateway and accounts
processes spent per request (`/proc/<pid>/stat`, user + system: less bound to the machine's load
than latency).

    uv run python bench/gateway_auth.py [--requests 1500] [--count-requests 1000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from counts import collection_counters, database_counters
from figures import cpu_of, cpu_seconds, percentile
from system import progress, servers_running

from docstore_devplatform.ports import free_ports
from docstore_devplatform.services import SERVICES, ServiceProcesses, region_wiring, service_urls
from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS, InternalAuth, parse_keys

REGION = "us-west-2"
PASSWORD = "benchmark password, long enough"
PLATFORM_ENV = {
    "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": "100000/minute",
    "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "100000/minute",
    "LOG_LEVEL": "WARNING",
}


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return elapsed


async def measure(
    urls: dict[str, str], mongo_url: str, requests: int, count_requests: int, pids: dict[str, int]
) -> dict[str, object]:
    username = f"bench-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=urls["gateway"], timeout=60) as http:
        created = await http.post(
            "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        login = await http.post("/v1/sessions", json={"username": username, "password": PASSWORD})
        assert login.status_code == 201, login.text
        account_id, token = created.json()["account_id"], login.json()["token"]
    internal = InternalAuth("gateway", parse_keys(DEV_KEYS), DEV_KEY_ID)
    gateway = httpx.AsyncClient(base_url=urls["gateway"], timeout=60, headers={"Authorization": f"Bearer {token}"})
    bare = httpx.AsyncClient(base_url=urls["gateway"], timeout=60)
    direct = httpx.AsyncClient(
        base_url=urls["accounts"], timeout=60, auth=internal.client_auth("accounts", subject=account_id, role="user")
    )
    times: dict[str, list[float]] = {"gateway": [], "direct": [], "healthz": []}
    try:
        for _ in range(50):  # connections, caches, first calls
            await timed(gateway, "/v1/account")
            await timed(direct, "/account")
            await timed(bare, "/healthz")
        progress(f"timing {requests} requests of each kind ...")
        for _ in range(requests):
            times["gateway"].append(await timed(gateway, "/v1/account"))
            times["direct"].append(await timed(direct, "/account"))
            times["healthz"].append(await timed(bare, "/healthz"))
        progress(f"counting database commands over {count_requests} gateway requests ...")
        before_all, before_by = await database_counters(mongo_url), await collection_counters(mongo_url)
        cpu_before = cpu_of(pids)
        for _ in range(count_requests):
            await timed(gateway, "/v1/account")
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        after_all, after_by = await database_counters(mongo_url), await collection_counters(mongo_url)
    finally:
        for client in (gateway, bare, direct):
            await client.aclose()
    gateway_db = {
        name: count - before_by.get(name, 0)
        for name, count in after_by.items()
        if name.startswith("docstore_gateway") and count != before_by.get(name, 0)
    }
    figures: dict[str, object] = {"bench": "gateway_auth", "requests_each": requests, "count_requests": count_requests}
    print(f"\n{'':<12}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, values in times.items():
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        print(f"{kind:<12}{p50:>10.2f}{p99:>10.2f}")
        figures[f"{kind}_p50_ms"], figures[f"{kind}_p99_ms"] = round(p50, 3), round(p99, 3)
    for p in (50, 99):
        added = (percentile(times["gateway"], p) - percentile(times["direct"], p)) * 1000
        print(f"gateway added p{p}: {added:.2f} ms")
        figures[f"added_p{p}_ms"] = round(added, 3)
    per_request = sum(gateway_db.values()) / count_requests
    everything = sum(after_all.values()) - sum(before_all.values())
    print(f"gateway database commands per request: {per_request:.2f} {gateway_db}")
    print(f"all database commands per request (background loops included): {everything / count_requests:.2f}")
    figures["gateway_db_commands_per_request"] = round(per_request, 3)
    figures["gateway_db_commands_by_collection"] = {
        name: round(n / count_requests, 3) for name, n in gateway_db.items()
    }
    figures["all_db_commands_per_request"] = round(everything / count_requests, 3)
    for name, seconds in cpu.items():
        print(f"{name} CPU per request: {seconds / count_requests * 1000:.2f} ms")
        figures[f"{name}_cpu_ms_per_request"] = round(seconds / count_requests * 1000, 3)
    figures["load"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="timed requests of each kind")
    parser.add_argument(
        "--count-requests", type=int, default=1000, help="gateway requests of the counting phase (commands, CPU)"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as tmp:
        folder = Path(tmp)
        with servers_running(folder, REGION) as endpoints:
            # Every service gets a URL of its own free port (only two run): no call may reach a
            # platform someone else runs on the fixed ports.
            ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
            wiring = region_wiring({REGION: service_urls(ports)}, REGION, primary=REGION)
            platform = ServiceProcesses(
                endpoints,
                folder / "platform",
                region=REGION,
                ports=ports,
                names=["accounts", "gateway"],
                extra_env=wiring | PLATFORM_ENV,
            )
            progress("starting accounts and gateway ...")
            try:
                urls = platform.start()
                pids = {name: pid for name, pid in platform.pids().items() if name in ("gateway", "accounts")}
                figures = asyncio.run(measure(urls, endpoints.mongo_url, args.requests, args.count_requests, pids))
            finally:
                platform.stop()
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

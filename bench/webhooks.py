"""Webhook delivery latency from a document change (issue 38), against baselines from the same run.

Starts the real servers and every DocStore service on free ports (as bench/sync.py does), signs
up an account, uploads one document and registers a webhook for `file.details-changed` at a
loopback receiver in this process (the platform runs in development mode). Then, one change at a
time, renames the document (`PATCH /v1/documents/{id}` through the gateway) and measures from just
before the request:
  * answered:  the gateway's answer to the PATCH (the change is committed);
  * event:     the same `file.details-changed` read by a raw aiokafka consumer already assigned to
               the topic (metadata's outbox relay + the broker: where notify's consumer starts);
  * delivered: the signed delivery arriving at the receiver (notify's consumer, the queue in
               MongoDB, the delivery loop, the POST).
And, as the floor of the last hop, a plain httpx POST of the same body to the same receiver on a
new connection (one client, no keep-alive: as notify's sender).
Prints p50/p99 of each (ms).

    uv run python bench/webhooks.py [--changes 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from figures import percentile

from docstore_devplatform.webhook_receiver import WebhookReceiver

PASSWORD = "correct horse battery staple"
WARMUP = 10


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


async def measure(gateway: str, bootstrap: str, changes: int) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as api, WebhookReceiver() as receiver:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        created = await api.post(
            "/v1/accounts", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        )
        created.raise_for_status()
        login = await api.post("/v1/sessions", json={"username": name, "password": PASSWORD})
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        grant = await api.post(
            "/v1/uploads", headers=auth, json={"filename": "b.txt", "size": 5, "content_type": "text/plain"}
        )
        grant.raise_for_status()
        form = grant.json()["form"]
        async with httpx.AsyncClient() as s3:
            (
                await s3.post(form["url"], data=form["fields"], files={"file": ("b.txt", b"bench", "text/plain")})
            ).raise_for_status()
        done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=auth)
        done.raise_for_status()
        document_id = done.json()["document_id"]
        hook = await api.post(
            "/v1/webhooks", headers=auth, json={"url": receiver.url(), "events": ["file.details-changed"]}
        )
        hook.raise_for_status()

        consumer = AIOKafkaConsumer(
            "docstore.file.details-changed",
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="latest",
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        arrived: dict[str, float] = {}

        async def read() -> None:
            async for record in consumer:
                body = record.value or b""
                for marker in list(waiting):
                    if marker.encode() in body:
                        arrived[marker] = time.monotonic()

        waiting: set[str] = set()
        reader = asyncio.create_task(read())
        # A new connection per POST, as notify's sender makes (no keep-alive), one client.
        plain = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        await asyncio.sleep(2)  # assigned before the first change
        results: dict[str, list[float]] = {"answered": [], "event": [], "delivered": [], "plain_post": []}
        try:
            for i in range(changes + WARMUP):
                marker = f"n{i}-{uuid.uuid4().hex[:8]}.txt"
                waiting.add(marker)
                seen = len(receiver.requests)
                started = time.monotonic()
                renamed = await api.patch(f"/v1/documents/{document_id}", headers=auth, json={"name": marker})
                renamed.raise_for_status()
                answered = time.monotonic()
                got = await receiver.wait_for(
                    lambda got, seen=seen, marker=marker: any(marker.encode() in r.body for r in got[seen:]), 60
                )
                delivered = next(r.at for r in got[seen:] if marker.encode() in r.body)
                for _ in range(200):
                    if marker in arrived:
                        break
                    await asyncio.sleep(0.01)
                waiting.discard(marker)
                plain_started = time.monotonic()
                (await plain.post(receiver.url("/plain"), content=got[-1].body)).raise_for_status()
                plain_took = time.monotonic() - plain_started
                if i < WARMUP:
                    continue
                results["answered"].append((answered - started) * 1000)
                results["delivered"].append((delivered - started) * 1000)
                if marker in arrived:
                    results["event"].append((arrived[marker] - started) * 1000)
                results["plain_post"].append(plain_took * 1000)
                if i % 20 == 0:
                    say(f"  {i - WARMUP + 1}/{changes}")
        finally:
            await plain.aclose()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await consumer.stop()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from docstore_devplatform.servers import Servers
    from docstore_devplatform.services import ServiceProcesses
    from docstore_events import all_topics

    with tempfile.TemporaryDirectory(prefix="docstore-bench-webhooks-") as tmp:
        root = Path(tmp)
        say("starting servers and services ...")
        servers = Servers(root / "servers", ports="auto", topics=all_topics(), buckets=["docstore-us-west-2"])
        endpoints = servers.start()
        system = ServiceProcesses(endpoints, root / "system", ports="auto")
        try:
            urls = system.start()
            results = asyncio.run(measure(urls["gateway"], endpoints.kafka_bootstrap, args.changes))
        finally:
            system.stop()
            servers.stop()
    summary = {
        f"{name}_{q}_ms": round(percentile(samples, q), 2)
        for name, samples in results.items()
        if samples
        for q in (50, 99)
    }
    summary |= {"changes": args.changes, "events_seen": len(results["event"])}
    for name in ("answered", "event", "delivered", "plain_post"):
        if results[name]:
            print(
                f"{name:11} p50 {percentile(results[name], 50):8.2f} ms   p99 {percentile(results[name], 99):8.2f} ms"
            )
    if args.json:
        print(json.dumps({"bench": "webhooks"} | summary))


if __name__ == "__main__":
    main()

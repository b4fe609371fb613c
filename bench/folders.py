"""Moving a folder of 10,000 documents in one request, and the owner's other requests meanwhile.

Starts the real servers (free ports, a temporary folder), fills a fresh metadata database with
one account's documents of the shape metadata writes (`bench/listing.py`'s seeder): `--documents`
(10,000) in `/src` and its sub-folders, and 2,000 more elsewhere, with the folder rows. Through
metadata's HTTP API (in process, httpx ASGI transport, the outbox relay publishing to Kafka as it
does in production), in one run:

  baseline  the owner's other requests with nothing else running, one at a time for
            `--seconds`: the first page of another folder, one document, a rename of another
            document (a write), the top folder's sub-folders;
  per-doc   what a client had to do before folders were things: `PATCH /documents/{id}` with the
            new path for each document of a folder of `--per-doc` (1,000) documents, one at a time
            (documents per second);
  move      `PATCH /folders/{id}` moving `/src` into `/dst` (one request; `METADATA_FOLDER_WAIT_SECONDS`
            is raised so it answers when every document followed), while a second task sends the
            baseline's requests in a loop: the move's time and documents per second, and the other
            requests' p50/p99 during it against the baseline.

    uv run python bench/folders.py [--documents 10000] [--per-doc 1000] [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from figures import percentile
from pymongo import AsyncMongoClient
from system import servers_running

from docstore_metadata.adapters.folders import FolderRepository
from docstore_metadata.domain.documents import EPOCH, search_keys
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

ACCOUNT = "acc-bench-folders"
SEED_BATCH = 100  # bench/listing.py: larger batches wedge SecantusDB 0.7
SUBFOLDERS = 20
OTHERS = 2_000
Call = Callable[[], Awaitable[None]]


def documents(count: int, folder: Callable[[int], str], now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        name = f"doc-{i:06d}-{rng.getrandbits(32):08x}.txt"
        rows.append(
            {
                "_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "account_id": ACCOUNT,
                "name": name,
                **search_keys(name),
                "title": None,
                "tags": [],
                "path": folder(i),
                "created_at": now,
                "modified_at": now,
                "current_version": 1,
                "size": 1000,
                "sha256": "0" * 64,
                "content_type": "text/plain",
                "trashed": False,
                "trashed_at": None,
                "purge_claimed_at": EPOCH,
            }
        )
    return rows


async def seed(db: Any, rows: list[dict[str, Any]]) -> None:
    for k in range(0, len(rows), SEED_BATCH):
        await db["documents"].insert_many(rows[k : k + SEED_BATCH], ordered=False)
    await FolderRepository(db).ensure_paths(ACCOUNT, sorted({r["path"] for r in rows}), datetime.now(UTC))


async def timed(call: Call) -> float:
    began = time.perf_counter()
    await call()
    return time.perf_counter() - began


def other_requests(http: httpx.AsyncClient, read_id: str, rename_id: str) -> list[tuple[str, Call]]:
    async def expect(response: Awaitable[httpx.Response]) -> None:
        answer = await response
        assert answer.status_code == 200, answer.text

    flip = [0]

    async def rename() -> None:
        flip[0] += 1
        await expect(http.patch(f"/documents/{rename_id}", json={"name": f"renamed-{flip[0] % 2}.txt"}))

    return [
        ("list another folder", lambda: expect(http.get("/documents", params={"path": "/other-3", "limit": 50}))),
        ("get one document", lambda: expect(http.get(f"/documents/{read_id}"))),
        ("rename another document", rename),
        ("list the top folder's folders", lambda: expect(http.get("/folders", params={"path": "/"}))),
    ]


async def loop_requests(calls: list[tuple[str, Call]], until: Callable[[], bool]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name, _ in calls}
    while not until():
        for name, call in calls:
            samples[name].append(await timed(call))
    return samples


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "n": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
        }
        for name, values in samples.items()
        if values
    }


async def run(mongo_url: str, kafka: str, count: int, per_doc: int, seconds: float) -> dict[str, Any]:
    rng = random.Random(37)
    now = datetime.now(UTC)
    database = f"bench_folders_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        mongodb_url=mongo_url,
        mongodb_database=database,
        kafka_bootstrap_servers=kafka,
        s3_bucket="docstore-us-west-2",
        log_level="WARNING",
        folder_wait_seconds=3600,
    )
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    db = mongo[database]
    app = create_app(settings)
    figures: dict[str, Any] = {"documents": count, "per_doc_documents": per_doc}
    try:
        async with app.router.lifespan_context(app):  # creates the indexes before the seed
            mine = documents(count, lambda i: "/src" if i % 2 else f"/src/sub-{i % SUBFOLDERS}", now, rng)
            elsewhere = documents(OTHERS, lambda i: f"/other-{i % 10}", now, rng)
            small = documents(per_doc, lambda i: "/small", now, rng)
            began = time.perf_counter()
            await seed(db, mine + elsewhere + small)
            print(
                f"seeded {len(mine) + len(elsewhere) + len(small):,} in {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
            )
            gc.collect()
            gc.freeze()
            identity = app.state.internal_auth.client_auth("metadata", subject=ACCOUNT, role="user")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", auth=identity, timeout=3600
            ) as http:
                calls = other_requests(http, elsewhere[0]["_id"], elsewhere[1]["_id"])
                deadline = time.monotonic() + seconds
                baseline = await loop_requests(calls, lambda: time.monotonic() > deadline)
                figures["baseline"] = summary(baseline)
                print(f"baseline: {json.dumps(figures['baseline'])}", file=sys.stderr)

                began = time.perf_counter()
                for row in small:
                    answer = await http.patch(f"/documents/{row['_id']}", json={"path": "/small-moved"})
                    assert answer.status_code == 200, answer.text
                took = time.perf_counter() - began
                figures["per_doc"] = {"seconds": round(took, 1), "documents_per_second": round(per_doc / took, 1)}
                print(f"per-document moves: {json.dumps(figures['per_doc'])}", file=sys.stderr)

                src = (await http.get("/folders/at", params={"path": "/src"})).json()
                await http.post("/folders", json={"parent": "/", "name": "dst"})
                done = asyncio.Event()

                async def move() -> float:
                    try:
                        answer_time = time.perf_counter()
                        answer = await http.patch(f"/folders/{src['folder_id']}", json={"parent": "/dst"})
                        assert answer.status_code == 200 and not answer.json()["moving"], answer.text
                        return time.perf_counter() - answer_time
                    finally:
                        done.set()

                moving = asyncio.create_task(move())
                during = await loop_requests(calls, done.is_set)
                took = await moving
                left = await db["documents"].count_documents(
                    {"account_id": ACCOUNT, "path": {"$gte": "/src", "$lt": "/src0"}}
                )
                moved = await db["documents"].count_documents(
                    {"account_id": ACCOUNT, "path": {"$gte": "/dst/src", "$lt": "/dst/src0"}}
                )
                assert (left, moved) == (0, count), (left, moved)
                figures["move"] = {"seconds": round(took, 1), "documents_per_second": round(count / took, 1)}
                figures["during_move"] = summary(during)
                print(f"folder move: {json.dumps(figures['move'])}", file=sys.stderr)
                print(f"during the move: {json.dumps(figures['during_move'])}", file=sys.stderr)
    finally:
        await mongo.drop_database(database)
        await mongo.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--per-doc", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder,
        servers_running(Path(folder), "us-west-2") as endpoints,
    ):
        figures = asyncio.run(
            run(endpoints.mongo_url, endpoints.kafka_bootstrap, args.documents, args.per_doc, args.seconds)
        )
    if args.json:
        print(json.dumps({"bench": "folders", **figures}))


if __name__ == "__main__":
    main()

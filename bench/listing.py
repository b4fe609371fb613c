"""A listing page and a metadata search at 10k and 100k documents, against raw MongoDB reads.

Starts the real servers (free ports, a temporary folder), fills one account of a fresh metadata
database with documents of the shape metadata writes (same derived search keys, the indexes
`DocumentRepository.ensure_indexes` creates), spread over a year, and times through metadata's
HTTP API (in process, httpx ASGI transport), in the same run:
  * first page    GET /documents?limit=50                 (newest first)
  * deep page     the same, with a cursor half-way down the account
  * prefix        GET /documents/search?name=<prefix>
  * substring     GET /documents/search?name=<4 letters>&name_match=substring
and, as baselines, a raw motor `find_one` by `_id`, and the textbook keyset query
`find({account, trashed}).sort(modified, _id).limit(51)` on the same compound index.
It measures at 10k documents, adds the rest, and measures again at 100k.

    uv run python bench/listing.py [--documents 100000] [--requests 200] [--mongo-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from motor.motor_asyncio import AsyncIOMotorClient

from docstore_metadata.adapters.repositories import EPOCH, DocumentRepository, search_keys
from docstore_metadata.domain.cursors import Cursor, encode_cursor, listing_kind
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

WORDS = ["report", "invoice", "notes", "photo", "contract", "budget", "minutes", "scan", "draft", "slides",
         "letter", "receipt", "plan", "summary", "thesis", "memo", "agenda", "policy", "offer", "ticket"]
TYPES = [("pdf", "application/pdf"), ("txt", "text/plain"), ("jpg", "image/jpeg"), ("csv", "text/csv")]
ACCOUNT = "bench-account"
SPAN = timedelta(days=365)
BATCH = 1000


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def make_documents(start: int, count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i in range(start, start + count):
        ext, content_type = rng.choice(TYPES)
        token = "".join(rng.choices(string.ascii_lowercase, k=6))
        name = f"{rng.choice(WORDS)}-{i:06d}-{token}.{ext}"
        at = now - SPAN * rng.random()
        docs.append({
            "_id": str(uuid.UUID(int=rng.getrandbits(128))), "account_id": ACCOUNT, "name": name, **search_keys(name),
            "title": None, "tags": rng.sample(WORDS, 2), "path": f"/{rng.choice(WORDS)}", "created_at": at,
            "modified_at": at, "current_version": 1, "size": rng.randint(1, 50_000_000), "sha256": "0" * 64,
            "content_type": content_type, "trashed": False, "trashed_at": None, "purge_claimed_at": EPOCH,
        })
    return docs


async def fill(repo: DocumentRepository, start: int, count: int, now: datetime, rng: random.Random) -> list[dict]:
    docs = make_documents(start, count, now, rng)
    began = time.perf_counter()
    for k in range(0, len(docs), BATCH):
        await repo.documents.insert_many(docs[k : k + BATCH], ordered=False)
        sys.stderr.write(f"\rinserting {start + k + BATCH:,}/{start + count:,}")
    sys.stderr.write(f"  ({time.perf_counter() - began:.0f} s)\n")
    return docs


async def timed(label: str, count: int, call: Any) -> list[float]:
    samples = []
    for i in range(count):
        began = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - began)
    sys.stderr.write(f"  {label}: {count} done\n")
    return samples


async def measure(http: httpx.AsyncClient, repo: DocumentRepository, docs: list[dict], requests: int,
                  naive_requests: int, rng: random.Random) -> dict[str, list[float]]:
    headers = {"X-Account-Id": ACCOUNT}
    by_time = sorted(docs, key=lambda d: (d["modified_at"], d["_id"]), reverse=True)
    middle = by_time[len(by_time) // 2]
    deep = encode_cursor(Cursor(listing_kind("modified", "desc", trashed=False, path=None),
                                middle["modified_at"].replace(microsecond=middle["modified_at"].microsecond // 1000 * 1000),
                                middle["_id"]))
    prefixes = [d["name_lower"][: len(d["name_lower"].split("-")[0]) + 5] for d in rng.sample(docs, requests)]
    substrings = [d["name_lower"].split("-")[2][1:5] for d in rng.sample(docs, requests)]
    ids = [d["_id"] for d in rng.sample(docs, requests)]

    async def get(url: str, **params: Any) -> dict:
        response = await http.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def first(_: int) -> None:
        assert len((await get("/documents", limit=50))["items"]) == 50

    async def deep_page(_: int) -> None:
        assert len((await get("/documents", limit=50, cursor=deep))["items"]) == 50

    async def prefix(i: int) -> None:
        assert (await get("/documents/search", name=prefixes[i], limit=50))["items"]

    async def substring(i: int) -> None:
        await get("/documents/search", name=substrings[i], name_match="substring", limit=50)

    async def raw_id(i: int) -> None:
        assert await repo.documents.find_one({"_id": ids[i]})

    async def raw_keyset(_: int) -> None:
        rows = await repo.documents.find({"account_id": ACCOUNT, "trashed": False}).sort(
            [("modified_at", -1), ("_id", -1)]).limit(51).to_list(51)
        assert len(rows) == 51

    results = {}
    for name, call, count in [("raw find_one by _id", raw_id, requests), ("first page", first, requests),
                              ("deep page (cursor)", deep_page, requests), ("prefix search", prefix, requests),
                              ("substring search", substring, requests),
                              ("raw keyset find, first page", raw_keyset, naive_requests)]:
        await call(0)  # warm-up
        results[name] = await timed(name, count, call)
    return results


def report(size: int, results: dict[str, list[float]]) -> None:
    base = percentile(results["raw find_one by _id"], 50)
    print(f"\n{size:,} documents in one account")
    for name, samples in results.items():
        p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
        print(f"  {name:30} p50 {p50:9.2f} ms   p99 {p99:9.2f} ms   p50 / raw _id {p50 / 1000 / base:7.1f} x"
              f"   (n={len(samples)})")


async def run(mongo_url: str, total: int, requests: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    database = f"bench_listing_{uuid.uuid4().hex[:8]}"
    settings = Settings(mongodb_url=mongo_url, mongodb_database=database, kafka_bootstrap_servers=KAFKA[0],
                        s3_bucket="docstore-us-west-2", log_level="WARNING", page_size_max=200)
    mongo = AsyncIOMotorClient(mongo_url, tz_aware=True)
    repo = DocumentRepository(mongo[database])
    await repo.ensure_indexes()
    app = create_app(settings)
    measured = {}
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
                docs = await fill(repo, 0, min(10_000, total), now, rng)
                measured[len(docs)] = await measure(http, repo, docs, requests, 20, rng)
                report(len(docs), measured[len(docs)])
                if total > len(docs):
                    docs += await fill(repo, len(docs), total - len(docs), now, rng)
                    measured[len(docs)] = await measure(http, repo, docs, requests, 5, rng)
                    report(len(docs), measured[len(docs)])
    finally:
        await mongo.drop_database(database)
        mongo.close()
    sizes = sorted(measured)
    if len(sizes) == 2:
        small, large = measured[sizes[0]], measured[sizes[1]]
        print(f"\ngrowth of p50 from {sizes[0]:,} to {sizes[1]:,} documents:")
        for name in small:
            print(f"  {name:30} {percentile(large[name], 50) / percentile(small[name], 50):6.2f} x")


KAFKA: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--mongo-url", help="use this MongoDB and --kafka instead of starting servers")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args()
    if args.mongo_url:
        KAFKA.append(args.kafka)
        asyncio.run(run(args.mongo_url, args.documents, args.requests))
        return
    from docstore_devplatform.servers import Servers
    from docstore_events import all_topics

    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), buckets=["docstore-us-west-2"])
        print("starting servers ...", file=sys.stderr)
        endpoints = servers.start()
        try:
            KAFKA.append(endpoints.kafka_bootstrap)
            asyncio.run(run(endpoints.mongo_url, args.documents, args.requests))
        finally:
            servers.stop()


if __name__ == "__main__":
    main()

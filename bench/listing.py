"""Listing pages and metadata search at 10k and 100k documents in one account, in the same run.

Starts the real servers (free ports, a temporary folder), fills a fresh metadata database with
documents of the shape metadata writes (same derived search keys, the indexes
`DocumentRepository.ensure_indexes` creates, all present while inserting), spread over a year:
one account measured, plus other accounts' documents (a fifth as many) as noise. It measures with
10k documents in the account, adds the rest, and measures again with 100k, each query through
metadata's HTTP API (in process, httpx ASGI transport, `limit=50`):

  listing   first page of every sort and order the API offers, a folder, and deep pages (a
            cursor half-way down the account) for the time, name and size sorts
  search    name prefix (narrow: ~5 matches; broad: a twentieth of the account), name substring,
            created / modified ranges (closed: a 30-day window 60 days back; open: the last 30
            days, everything older than 180 days), one tag, two tags, content type
  baseline  a raw PyMongo `find_one` by `_id`, and the textbook keyset query
            `find({account, trashed}).sort(modified, _id).limit(51)` on the same compound index

and prints p50/p99 for each at both sizes with the ratio 100k / 10k.

Seeding goes in `insert_many` batches of 100. With batches of 1,000 SecantusDB 0.7 wedged for
good at ~40-44k documents (twice before, and reproduced): every 1,000 oplog entries the server
prunes its oplog from inside the insert's still-open WiredTiger transaction, opening a second
session on the same thread (`_insert_chunk` -> `_emit_oplog` -> `_prune_oplog_locked` ->
`_iter_oplog_oldest`). That session's `cursor.next()` waits in `__wt_cache_eviction_worker`, since
the cache was over its dirty trigger (217 MB dirty of the 1 GB cache, trigger 20%): a batch writes
~35 index entries per document at random places of the index table, and WiredTiger counts every
page a transaction dirtied in full; those pages belong to the open transaction, which commits only
after the prune returns. Nothing moves again (0% CPU). A batch of 100 dirties a tenth as much:
120,000 documents went in in ~6 minutes, and the bench's 108,000 in ~4.5.

    uv run python bench/listing.py [--documents 100000] [--requests 200] [--seconds 15] [--mongo-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from figures import percentile
from pymongo import AsyncMongoClient

from docstore_metadata.adapters.keyset import PlainKeyset
from docstore_metadata.adapters.repositories import DocumentRepository
from docstore_metadata.domain.cursors import SORTS, Cursor, encode_cursor, listing_kind
from docstore_metadata.domain.documents import EPOCH, search_keys
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

WORDS = [
    "report",
    "invoice",
    "notes",
    "photo",
    "contract",
    "budget",
    "minutes",
    "scan",
    "draft",
    "slides",
    "letter",
    "receipt",
    "plan",
    "summary",
    "thesis",
    "memo",
    "agenda",
    "policy",
    "offer",
    "ticket",
]
TYPES = [("pdf", "application/pdf"), ("txt", "text/plain"), ("jpg", "image/jpeg"), ("csv", "text/csv")]
ACCOUNT = "bench-account"
NOISE_ACCOUNTS = [f"noise-account-{n}" for n in range(4)]
NOISE_SHARE = 0.2  # other accounts' documents, per document of the measured account
SPAN = timedelta(days=365)
SEED_BATCH = 100  # see the module docstring: 1,000 wedges SecantusDB at ~40k documents
SMALL = 10_000
PAGE = 50

Call = Callable[[int], Awaitable[None]]


def make_documents(account: str, start: int, count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i in range(start, start + count):
        ext, content_type = rng.choice(TYPES)
        token = "".join(rng.choices(string.ascii_lowercase, k=6))
        name = f"{rng.choice(WORDS)}-{i:06d}-{token}.{ext}"
        at = now - SPAN * rng.random()
        docs.append(
            {
                "_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "account_id": account,
                "name": name,
                **search_keys(name),
                "title": None,
                "tags": sorted(rng.sample(WORDS, 2)),
                "path": f"/{rng.choice(WORDS)}",
                "created_at": at,
                "modified_at": at,
                "current_version": 1,
                "size": rng.randint(1, 50_000_000),
                "sha256": "0" * 64,
                "content_type": content_type,
                "trashed": False,
                "trashed_at": None,
                "purge_claimed_at": EPOCH,
            }
        )
    return docs


class Seeder:
    """Adds documents to the measured account and, interleaved, to the noise accounts."""

    def __init__(self, repo: DocumentRepository, now: datetime, rng: random.Random) -> None:
        self.repo, self.now, self.rng = repo, now, rng
        self.mine: list[dict[str, Any]] = []
        self.noise = 0

    async def fill_to(self, total: int) -> None:
        count = total - len(self.mine)
        docs = make_documents(ACCOUNT, len(self.mine), count, self.now, self.rng)
        noise_count = int(count * NOISE_SHARE)
        mixed = docs + [
            doc
            for k, account in enumerate(NOISE_ACCOUNTS)
            for doc in make_documents(
                account, self.noise + k * noise_count, noise_count // len(NOISE_ACCOUNTS), self.now, self.rng
            )
        ]
        self.rng.shuffle(mixed)
        began = time.perf_counter()
        for k in range(0, len(mixed), SEED_BATCH):
            await self.repo.documents.insert_many(mixed[k : k + SEED_BATCH], ordered=False)
            if (k // SEED_BATCH) % 50 == 0:
                sys.stderr.write(f"\rinserting {k:,}/{len(mixed):,}")
        sys.stderr.write(
            f"\rinserted {len(mixed):,} documents ({len(docs):,} in the account) "
            f"in {time.perf_counter() - began:.0f} s\n"
        )
        self.mine += docs
        self.noise += noise_count


def truncate_ms(at: datetime) -> datetime:
    """What a datetime is after a round trip through MongoDB (milliseconds)."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def deep_cursor(http: httpx.AsyncClient, docs: list[dict[str, Any]], sort: str, order: str) -> str:
    """A cursor half-way down the account in the order of (sort, order), as paging there hands it
    out: the `next_cursor` of the page that starts at the middle document (so it carries the key
    window the walk learnt, as a client's next page does)."""
    field = SORTS[sort]
    ordered = sorted(docs, key=lambda d: (d[field], d["_id"]), reverse=order == "desc")
    middle = ordered[len(ordered) // 2]
    value = truncate_ms(middle[field]) if isinstance(middle[field], datetime) else middle[field]
    start = encode_cursor(Cursor(listing_kind(sort, order, trashed=False, path=None), value, middle["_id"]))
    response = await http.get("/documents", params={"sort": sort, "order": order, "limit": PAGE, "cursor": start})
    return response.json()["next_cursor"]


async def queries(
    http: httpx.AsyncClient,
    repo: DocumentRepository,
    docs: list[dict],
    now: datetime,
    requests: int,
    rng: random.Random,
) -> list[tuple[str, Call]]:
    headers: dict[str, str] = {}  # the client signs every request as ACCOUNT
    picks = [rng.choice(docs) for _ in range(requests)]
    narrow = [d["name_lower"][: len(d["name_lower"].split("-")[0]) + 5] for d in picks]  # "report-0012": ~5 names
    substrings = [rng.choice(docs)["name_lower"].split("-")[2][1:5] for _ in range(requests)]
    ids = [rng.choice(docs)["_id"] for _ in range(requests)]
    day = timedelta(days=1)

    async def get(url: str, expect: int | None = PAGE, **params: Any) -> None:
        response = await http.get(url, params={"limit": PAGE, **params}, headers=headers)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert expect is None or len(items) == expect, (url, params, len(items))

    def listing(expect: int | None = PAGE, **params: Any) -> Call:
        return lambda _i: get("/documents", expect, **params)

    def search(expect: int | None = PAGE, **params: Any) -> Call:
        return lambda _i: get("/documents/search", expect, **params)

    async def raw_id(i: int) -> None:
        assert await repo.documents.find_one({"_id": ids[i]})

    async def raw_keyset(_i: int) -> None:
        rows = (
            await repo.documents.find({"account_id": ACCOUNT, "trashed": False})
            .sort([("modified_at", -1), ("_id", -1)])
            .limit(PAGE + 1)
            .to_list(PAGE + 1)
        )
        assert len(rows) == PAGE + 1

    iso = lambda at: at.isoformat()  # noqa: E731
    return [
        ("raw find_one by _id", raw_id),
        ("first page (modified desc)", listing()),
        ("deep page, modified desc", listing(cursor=await deep_cursor(http, docs, "modified", "desc"))),
        ("first page, modified asc", listing(sort="modified", order="asc")),
        ("first page, created desc", listing(sort="created")),
        ("first page, created asc", listing(sort="created", order="asc")),
        ("first page, name asc", listing(sort="name")),
        ("first page, name desc", listing(sort="name", order="desc")),
        ("deep page, name asc", listing(sort="name", cursor=await deep_cursor(http, docs, "name", "asc"))),
        ("first page, size desc", listing(sort="size")),
        ("first page, size asc", listing(sort="size", order="asc")),
        ("deep page, size desc", listing(sort="size", cursor=await deep_cursor(http, docs, "size", "desc"))),
        ("folder /report, modified desc", listing(path="/report")),
        ("folder /report, name asc", listing(path="/report", sort="name")),
        ("prefix, narrow (~5 matches)", lambda i: get("/documents/search", None, name=narrow[i])),
        ("prefix, broad (1/20 of account)", search(name="report")),
        ("substring (4 letters)", lambda i: get("/documents/search", None, name=substrings[i], name_match="substring")),
        ("modified, closed 30 days", search(modified_from=iso(now - 90 * day), modified_to=iso(now - 60 * day))),
        ("created, closed 30 days", search(created_from=iso(now - 90 * day), created_to=iso(now - 60 * day))),
        ("modified, open: last 30 days", search(modified_from=iso(now - 30 * day))),
        ("created, open: before 180 days", search(created_to=iso(now - 180 * day))),
        ("one tag", search(tags="report")),
        ("two tags", search(None, tags="report,budget")),
        ("content type", search(content_type="application/pdf")),
        ("raw keyset find (textbook)", raw_keyset),
    ]


async def measure(calls: list[tuple[str, Call]], requests: int, seconds: float) -> dict[str, list[float]]:
    results = {}
    for name, call in calls:
        await call(0)  # warm-up
        samples: list[float] = []
        deadline = time.perf_counter() + seconds
        for i in range(requests):
            began = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - began)
            if time.perf_counter() > deadline and len(samples) >= 5:
                break
        results[name] = samples
        sys.stderr.write(f"  {name}: {len(samples)} requests, p50 {percentile(samples, 50) * 1000:.1f} ms\n")
    return results


def report(size: int, results: dict[str, list[float]]) -> None:
    base = percentile(results["raw find_one by _id"], 50)
    print(f"\n{size:,} documents in the account")
    for name, samples in results.items():
        p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
        print(
            f"  {name:32} p50 {p50:9.2f} ms   p99 {p99:9.2f} ms   p50 / raw _id {p50 / 1000 / base:7.1f} x"
            f"   (n={len(samples)})"
        )


def compare(small_size: int, small: dict[str, list[float]], large_size: int, large: dict[str, list[float]]) -> None:
    a, b = f"{small_size // 1000}k", f"{large_size // 1000}k"
    print(f"\n| query | {a} p50 | {a} p99 | {b} p50 | {b} p99 | p50 {b}/{a} | p99 {b}/{a} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in small:
        s50, s99, l50, l99 = (percentile(x, q) * 1000 for x in (small[name], large[name]) for q in (50, 99))
        print(f"| {name} | {s50:.1f} | {s99:.1f} | {l50:.1f} | {l99:.1f} | {l50 / s50:.2f} | {l99 / s99:.2f} |")


async def run(mongo_url: str, total: int, requests: int, seconds: float) -> dict[int, dict[str, list[float]]]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    database = f"bench_listing_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        mongodb_url=mongo_url,
        mongodb_database=database,
        kafka_bootstrap_servers=KAFKA[0],
        s3_bucket="docstore-us-west-2",
        log_level="WARNING",
        page_size_max=200,
    )
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    repo = DocumentRepository(mongo[database], PlainKeyset(mongo[database]))  # seeds only: the app lists
    await repo.ensure_indexes()
    app = create_app(settings)
    measured: dict[int, dict[str, list[float]]] = {}
    seeder = Seeder(repo, now, rng)
    try:
        async with app.router.lifespan_context(app):
            # Signed as the gateway signs each request it forwards for ACCOUNT.
            gateway_identity = app.state.internal_auth.client_auth("metadata", subject=ACCOUNT, role="user")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", auth=gateway_identity
            ) as http:
                for size in sorted({min(SMALL, total), total}):
                    await seeder.fill_to(size)
                    # The seeded documents stay in this process: keep the collector from walking
                    # them again and again in the middle of timed requests.
                    gc.collect()
                    gc.freeze()
                    calls = await queries(http, repo, seeder.mine, now, requests, random.Random(size))
                    measured[size] = await measure(calls, requests, seconds)
                    report(size, measured[size])
    finally:
        await mongo.drop_database(database)
        await mongo.close()
    sizes = sorted(measured)
    if len(sizes) == 2:
        compare(sizes[0], measured[sizes[0]], sizes[1], measured[sizes[1]])
    return measured


def as_json(measured: dict[int, dict[str, list[float]]]) -> str:
    """One JSON object: per size, per query, p50/p99 in ms and p50 against the raw _id read."""
    sizes = {}
    for size, results in measured.items():
        base = percentile(results["raw find_one by _id"], 50)
        sizes[str(size)] = {
            name: {
                "p50_ms": round(percentile(samples, 50) * 1000, 2),
                "p99_ms": round(percentile(samples, 99) * 1000, 2),
                "ratio_p50_raw_id": round(percentile(samples, 50) / base, 2),
            }
            for name, samples in results.items()
        }
    return json.dumps({"bench": "listing", "sizes": sizes})


KAFKA: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="at most this many of each query per size")
    parser.add_argument("--seconds", type=float, default=15, help="and at most this long (at least 5 requests)")
    parser.add_argument("--mongo-url", help="use this MongoDB and --kafka instead of starting servers")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    if args.mongo_url:
        KAFKA.append(args.kafka)
        measured = asyncio.run(run(args.mongo_url, args.documents, args.requests, args.seconds))
        if args.json:
            print(as_json(measured))
        return
    from docstore_devplatform.servers import Servers
    from docstore_events import all_topics

    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), buckets=["docstore-us-west-2"])
        print("starting servers ...", file=sys.stderr)
        endpoints = servers.start()
        try:
            KAFKA.append(endpoints.kafka_bootstrap)
            measured = asyncio.run(run(endpoints.mongo_url, args.documents, args.requests, args.seconds))
        finally:
            servers.stop()
    if args.json:
        print(as_json(measured))


if __name__ == "__main__":
    main()

"""Every page of one large folder, through metadata's listing API, in each order a client walks it.

A WebDAV PROPFIND (and any client that lists a whole folder) reads every page of the folder's
listing by name. This bench fills a fresh metadata database with `--documents` documents in one
folder of one account (the shape and indexes `bench/listing.py` seeds), then walks all pages
(`limit=200`, as the WebDAV service asks) `--repeats` times for each order: name ascending and
descending, created ascending and descending. Each walk goes through metadata's HTTP API in
process (httpx ASGI transport), with the listing strategy the service picks for the server.

Names come in two shapes (`--names`): `numbered` (`doc-000123.txt`, as `bench/webdav.py` makes
them, and as cameras and scanners do: long runs sharing a prefix) and `words` (`report-000123-
abcdef.pdf` over twenty words, as `bench/listing.py` makes them).

Baseline, same run: the textbook keyset walk, one raw `find` per page beyond the last key, sorted
by (name, `_id`) with a limit, on the same compound index.

    uv run python bench/folder_walk.py [--documents 10000] [--names numbered] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from figures import percentile
from listing import ACCOUNT, SEED_BATCH, make_documents
from pymongo import AsyncMongoClient
from system import servers_running

from docstore_metadata.adapters.keyset import PlainKeyset
from docstore_metadata.adapters.repositories import DocumentRepository
from docstore_metadata.domain.documents import search_keys
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

FOLDER = "/many"
PAGE = 200
ORDERS = [("name", "asc"), ("name", "desc"), ("created", "asc"), ("created", "desc")]


def folder_documents(count: int, names: str) -> list[dict[str, Any]]:
    docs = make_documents(ACCOUNT, 0, count, datetime.now(UTC), random.Random(7))
    for i, doc in enumerate(docs):
        doc["path"] = FOLDER
        if names == "numbered":
            doc["name"] = f"doc-{i:06d}.txt"
            doc.update(search_keys(doc["name"]))
    return docs


async def walk(http: httpx.AsyncClient, sort: str, order: str) -> int:
    """Every page of the folder in one order; the number of documents seen."""
    seen, cursor = 0, None
    while True:
        params = {"path": FOLDER, "sort": sort, "order": order, "limit": PAGE} | ({"cursor": cursor} if cursor else {})
        response = await http.get("/documents", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += len(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return seen


async def raw_walk(repo: DocumentRepository) -> int:
    """The textbook keyset walk by name: one limited `find` beyond the last key per page. The
    seeded names are unique, so no row ties with the last key (the service reads ties apart)."""
    seen, last = 0, None
    equal = {"account_id": ACCOUNT, "trashed": False, "path": FOLDER}
    while True:
        query = equal | ({"name_lower": {"$gt": last}} if last is not None else {})
        rows = await repo.documents.find(query).sort([("name_lower", 1), ("_id", 1)]).limit(PAGE).to_list(PAGE)
        seen += len(rows)
        if len(rows) < PAGE:
            return seen
        last = rows[-1]["name_lower"]


async def run(mongo_url: str, kafka: str, count: int, names: str, repeats: int) -> dict[str, list[float]]:
    database = f"bench_walk_{uuid.uuid4().hex[:8]}"
    settings = Settings(
        mongodb_url=mongo_url,
        mongodb_database=database,
        kafka_bootstrap_servers=kafka,
        s3_bucket="docstore-us-west-2",
        log_level="ERROR",  # metadata asks accounts, which is not running, for owners: one warning each
        page_size_max=PAGE,
    )
    mongo = AsyncMongoClient(mongo_url, tz_aware=True)
    repo = DocumentRepository(mongo[database], PlainKeyset(mongo[database]))  # seeds only: the app lists
    await repo.ensure_indexes()
    docs = folder_documents(count, names)
    began = time.perf_counter()
    for k in range(0, len(docs), SEED_BATCH):
        await repo.documents.insert_many(docs[k : k + SEED_BATCH], ordered=False)
    print(f"inserted {count:,} documents in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    del docs
    gc.collect()
    walks: dict[str, list[float]] = {}
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            identity = app.state.internal_auth.client_auth("metadata", subject=ACCOUNT, role="user")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", auth=identity, timeout=600
            ) as http:
                print(f"listing strategy: {app.state.services.listing.name}", file=sys.stderr)
                for sort, order in ORDERS:
                    await walk(http, sort, order)  # the first walk of an order also sets its remembered edge
                for _ in range(repeats):  # interleaved, so that a slower minute spreads over all orders
                    for sort, order in ORDERS:
                        began = time.perf_counter()
                        assert await walk(http, sort, order) == count
                        walks.setdefault(f"{sort} {order}", []).append(time.perf_counter() - began)
                    began = time.perf_counter()
                    assert await raw_walk(repo) == count
                    walks.setdefault("raw keyset, name asc", []).append(time.perf_counter() - began)
    finally:
        await mongo.drop_database(database)
        await mongo.close()
    return walks


def report(count: int, names: str, walks: dict[str, list[float]]) -> dict[str, Any]:
    base = percentile(walks["raw keyset, name asc"], 50)
    figures = {
        order: {
            "p50_ms": round(percentile(samples, 50) * 1000, 1),
            "p99_ms": round(percentile(samples, 99) * 1000, 1),
            "ratio_p50_raw": round(percentile(samples, 50) / base, 2),
        }
        for order, samples in walks.items()
    }
    print(f"\nevery page ({PAGE} a page) of a folder of {count:,} documents, {names} names")
    for order, figure in figures.items():
        print(
            f"  {order:22} p50 {figure['p50_ms']:10,.1f} ms   p99 {figure['p99_ms']:10,.1f} ms"
            f"   p50 / raw keyset {figure['ratio_p50_raw']:5.2f}"
        )
    return {"bench": "folder_walk", "documents": count, "names": names, "page": PAGE, "walks": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--names", choices=["numbered", "words"], default="numbered")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mongo-url", help="use this MongoDB and --kafka instead of starting servers")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of the figures")
    args = parser.parse_args()
    if args.mongo_url:
        walks = asyncio.run(run(args.mongo_url, args.kafka, args.documents, args.names, args.repeats))
    else:
        with (
            tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder,
            servers_running(Path(folder), "us-west-2") as endpoints,
        ):
            walks = asyncio.run(
                run(endpoints.mongo_url, endpoints.kafka_bootstrap, args.documents, args.names, args.repeats)
            )
    figures = report(args.documents, args.names, walks)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

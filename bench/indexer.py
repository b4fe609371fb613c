"""Indexer throughput beside the raw extractors, and search latency at 100k documents.

Starts the real servers (free ports, a temporary folder) and the indexer service as its
own process, then measures, in the same run:
  * raw:      the extractors alone (`extract_text`, in this process, one document after
              another) over 500 mixed documents: text, Markdown, HTML, CSV, e-mail, PDF,
              DOCX, XLSX, PPTX, ODT, and a few PNG photos and scanned PDFs (OCR);
  * indexer:  the same 500 objects in S3, announced by `upload.completed` for a Premium
              account -> read from S3, extracted in the worker processes, indexed in
              Typesense, recorded exactly once in MongoDB -> all 500 searchable;
  * search:   100k synthetic documents bulk-imported (import endpoint) into a throwaway
              collection with the indexer's schema, then queries through the indexer's
              own search adapter (account filter, trash filter, highlights): p50/p99.

    uv run python bench/indexer.py [--documents 500] [--search-documents 100000] [--queries 500]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
from aiokafka import AIOKafkaProducer

from docstore_devplatform import documents as builders
from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses, bucket_for
from docstore_events import AccountCreated, FileVersionRecorded, all_topics, encode
from docstore_indexer.adapters.extraction import extract_text
from docstore_indexer.adapters.search_index import SearchIndex, account_filter, collection_schema
from docstore_indexer.domain.extraction import DOCX, PPTX, XLSX, ExtractionFailed

REGION = "us-west-2"
COLLECTION = "documents_us_west_2"
rng = random.Random(42)
WORDS = [
    w
    for w in (
        "harbour manifest crane ledger invoice walrus meerkat budget quarterly minutes contract charter pelican "
        "lighthouse keeper tangerine accordion platypus review summary committee approved revenue costs freight "
        "schedule delivery warehouse customer supplier audit report planning project milestone travel expenses "
        "receipt payment balance account transfer policy insurance claim vehicle property lease tenant garden"
    ).split()
]


def progress(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def sentence(n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


# Documents --------------------------------------------------------------------------------


def office(kind: str) -> bytes:
    if kind == "docx":
        return builders.docx_bytes([sentence() for _ in range(8)])
    if kind == "xlsx":
        return builders.xlsx_bytes([[rng.choice(WORDS), rng.choice(WORDS), i, i * 1.5] for i in range(40)])
    if kind == "pptx":
        slides = [(sentence(4), sentence()) for _ in range(4)]
        return builders.pptx_bytes(*slides[0], more=slides[1:])
    if kind == "odt":
        return builders.odt_bytes([sentence() for _ in range(8)])
    raise ValueError(kind)


def eml() -> bytes:
    return builders.eml_bytes(sentence(5), sentence(120), attachment=False)


def picture(lines: list[str], fmt: str) -> bytes:
    return builders.text_image(lines, fmt=fmt, size=48)


MIX = [  # (kind, content type, count of 500, maker)
    ("txt", "text/plain", 100, lambda: sentence(300).encode()),
    ("md", "text/markdown", 40, lambda: ("# " + sentence(5) + "\n\n" + sentence(200)).encode()),
    ("html", "text/html", 60, lambda: f"<html><title>{sentence(4)}</title><p>{sentence(200)}</p></html>".encode()),
    ("csv", "text/csv", 30, lambda: "\n".join(",".join(sentence(4).split()) for _ in range(50)).encode()),
    ("eml", "message/rfc822", 30, eml),
    ("pdf", "application/pdf", 90, lambda: builders.make_pdf([[sentence(12) for _ in range(30)]], size=12)),
    ("docx", DOCX, 50, lambda: office("docx")),
    ("xlsx", XLSX, 35, lambda: office("xlsx")),
    ("pptx", PPTX, 35, lambda: office("pptx")),
    ("odt", "application/vnd.oasis.opendocument.text", 20, lambda: office("odt")),
    ("png", "image/png", 5, lambda: picture([sentence(4), sentence(4)], "PNG")),
    ("scan", "application/pdf", 5, lambda: picture([sentence(4), sentence(4)], "PDF")),
]


def make_documents(count: int) -> list[tuple[str, str, bytes]]:
    total = sum(n for _, _, n, _ in MIX)
    documents = []
    for kind, content_type, n, make in MIX:
        for _ in range(max(1, round(n * count / total))):
            documents.append((kind, content_type, make()))
    rng.shuffle(documents)
    return documents[:count]


# Measurements -----------------------------------------------------------------------------


def raw_extraction(documents: list[tuple[str, str, bytes]]) -> float:
    started = time.perf_counter()
    for i, (_, content_type, data) in enumerate(documents, start=1):
        try:
            extract_text(data, content_type)
        except ExtractionFailed:
            pass
        if i % 100 == 0:
            progress(f"raw extractors: {i}/{len(documents)}")
    return time.perf_counter() - started


async def through_indexer(endpoints, documents: list[tuple[str, str, bytes]]) -> float:
    account_id = f"bench-{uuid.uuid4().hex[:8]}"
    bucket = bucket_for(REGION)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name=REGION,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
    )
    events = []
    for i, (kind, content_type, data) in enumerate(documents):
        document_id, upload_id = f"doc-{i:04d}", uuid.uuid4().hex
        key = f"{account_id}/{document_id}/{upload_id}"
        await asyncio.to_thread(s3.put_object, Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        events.append(
            FileVersionRecorded(
                account_id=account_id,
                upload_id=upload_id,
                document_id=document_id,
                version=1,
                bucket=bucket,
                key=key,
                filename=f"{document_id}.{kind}",
                content_type=content_type,
                size=len(data),
                sha256="s",
            )
        )
    progress(f"{len(events)} objects in S3")
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    typesense = httpx.AsyncClient(
        base_url=endpoints.typesense_url, headers={"X-TYPESENSE-API-KEY": endpoints.typesense_api_key}
    )

    async def send(event) -> None:
        record = encode(event, source="/bench")
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=[(k, v.encode()) for k, v in record.headers.items()]
        )

    async def searchable() -> int:
        response = await typesense.get(
            f"/collections/{COLLECTION}/documents/search",
            params={"q": "*", "filter_by": account_filter(account_id), "per_page": 0},
        )
        return int(response.json().get("found", 0)) if response.status_code == 200 else 0

    try:
        await send(
            AccountCreated(
                account_id=account_id, username=account_id, email="b@example.com", plan="premium", home_region=REGION
            )
        )
        # Warm-up document (worker start, consumer assignment) outside the measurement.
        warm = events.pop()
        await send(warm)
        while await searchable() < 1:
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        await asyncio.gather(*(send(event) for event in events))
        done = 0
        while done < len(events) + 1:
            await asyncio.sleep(0.2)
            now = await searchable()
            if now // 50 != done // 50:
                progress(f"indexer: {now - 1}/{len(events)} searchable")
            done = now
        return time.perf_counter() - started, len(events)
    finally:
        await producer.stop()
        await typesense.aclose()


async def search_latency(endpoints, documents: int, queries: int) -> tuple[list[float], float]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    index = SearchIndex.connect(endpoints.typesense_url, endpoints.typesense_api_key, name, timeout=300)
    await index.http.post("/collections", json=collection_schema(name))
    accounts = [f"acct-{i:03d}" for i in range(200)]
    vocabulary = WORDS + [f"{a}{b}" for a in ("zor", "mip", "tak", "lun", "bex") for b in WORDS]
    try:
        started = time.perf_counter()
        batch: list[dict] = []
        base = int(time.time()) - 86400 * 365
        for i in range(documents):
            account = accounts[i % len(accounts)]
            batch.append(
                {
                    "id": f"{account}:d{i}",
                    "account_id": account,
                    "document_id": f"d{i}",
                    "version": 1,
                    "name": f"{rng.choice(WORDS)}-{i}.txt",
                    "path": "/",
                    "tags": rng.sample(WORDS, 2),
                    "content_type": "text/plain",
                    "created_at": base + i * 300,
                    "trashed": i % 50 == 0,
                    "text": " ".join(rng.choice(vocabulary) for _ in range(80)),
                }
            )
            if len(batch) == 5000 or i == documents - 1:
                failed = await index.import_documents(batch, action="create")
                assert failed == 0, f"{failed} documents failed to import"
                batch = []
                progress(f"search: imported {i + 1}/{documents}")
        imported = time.perf_counter() - started
        samples = []
        for i in range(queries + 20):
            account = rng.choice(accounts)
            kind = i % 4
            if kind == 0:
                q = rng.choice(vocabulary)
            elif kind == 1:
                q = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
            elif kind == 2:
                q = f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"'
            else:
                word = rng.choice(WORDS)
                q = word[:-2] + word[-1] + word[-2] if len(word) > 4 else word  # a typo
            t = time.perf_counter()
            await index.search(account, q, page=1, per_page=20)
            if i >= 20:
                samples.append(time.perf_counter() - t)
        return samples, imported
    finally:
        await index.http.delete(f"/collections/{name}")
        await index.close()


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--search-documents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    progress(f"building {args.documents} mixed documents ...")
    documents = make_documents(args.documents)
    kinds: dict[str, int] = {}
    for kind, _, _ in documents:
        kinds[kind] = kinds.get(kind, 0) + 1
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        servers = Servers(Path(folder) / "servers", ports="auto", topics=all_topics(), buckets=[bucket_for(REGION)])
        progress("starting servers and the indexer service ...")
        endpoints = servers.start()
        indexer = ServiceProcesses(endpoints, Path(folder) / "services", names=["indexer"], region=REGION)
        try:
            indexer.start()
            raw_seconds = raw_extraction(documents)
            indexer_seconds, indexed = asyncio.run(through_indexer(endpoints, documents))
            samples, import_seconds = asyncio.run(search_latency(endpoints, args.search_documents, args.queries))
        finally:
            indexer.stop()
            servers.stop()
    raw_rate = len(documents) / raw_seconds
    indexer_rate = indexed / indexer_seconds
    print(f"\n{len(documents)} mixed documents: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print(f"{'raw extractors (in process, sequential)':46} {raw_rate:8.1f} docs/s   ({raw_seconds:.1f} s)")
    print(
        f"{'through the indexer (S3 -> extract -> index)':46} {indexer_rate:8.1f} docs/s   "
        f"({indexer_seconds:.1f} s for {indexed})"
    )
    print(f"{'ratio indexer / raw':46} {indexer_rate / raw_rate:8.2f} x")
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    print(
        f"\nsearch at {args.search_documents} documents ({args.search_documents // 200} per account, 200 accounts; "
        f"bulk import {import_seconds:.1f} s)"
    )
    print(
        f"{'search latency (account filter, highlights)':46} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(samples)})"
    )


if __name__ == "__main__":
    main()

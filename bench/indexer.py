"""Indexer throughput beside the raw extractors, and search latency at 100k documents.

Starts the real servers (free ports, a temporary folder) and the indexer service as its
own process, then measures, in the same run:
  * raw:      the extractors alone (`extract_text`, in this process, one document after
              another; run before and after the indexer, averaged) over 500 mixed documents: text, Markdown, HTML, CSV, e-mail, PDF,
              DOCX, XLSX, PPTX, ODT, and a few PNG photos and scanned PDFs (OCR);
  * indexer:  the same 500 objects in S3, announced by `file.version-recorded` for a Premium
              account -> read from S3, extracted in the worker processes, indexed in
              Typesense, recorded exactly once in MongoDB -> all 500 searchable (the
              worker processes are warmed up first with a few extra documents sent together, so
              that every extraction worker has started, not counted);
  * search:   the whole platform (gateway, accounts, indexer, ...) started; a Premium account
              signed up and logged in through the gateway; 100k synthetic documents (200
              accounts, that one among them) bulk-imported into the indexer's real collection;
              then each query four ways, interleaved: a raw Typesense query (the parameters the
              indexer sends), the indexer's search adapter in this process, the indexer's
              route called directly as the gateway calls it (GET /search with an identity
              token), and the user's path (HTTP GET /v1/search to the gateway -> indexer ->
              Typesense): p50/p99 of each.

    uv run python bench/indexer.py [--documents 500] [--search-documents 100000] [--queries 500] [--json]
                                   [--no-search | --no-index] [--indexer-env NAME=VALUE ...]
                                   [--platform-env NAME=VALUE ...] [--py-spy DIR]

`--no-search` stops after the indexer (a quick run); `--no-index` measures search only (no
throughput part); `--indexer-env` sets the indexer's settings for the throughput part, e.g.
`INDEXER_PREVIEW_NICENESS=0` to compare with previews at the extractors' priority;
`--platform-env` sets a setting of every service of the search part; `--py-spy DIR` records
the gateway and the indexer with py-spy during the timed queries (raw profiles in DIR; the
sampling costs the services CPU, so take the latency figures from a run without it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
from aiokafka import AIOKafkaProducer
from figures import percentile
from system import indexer_running, servers_running

from docstore_devplatform import documents as builders
from docstore_devplatform.ports import free_ports
from docstore_devplatform.services import SERVICES, ServiceProcesses, bucket_for, region_wiring, service_urls
from docstore_events import AccountCreated, FileVersionRecorded, encode
from docstore_indexer.adapters.extraction import extract_text
from docstore_indexer.adapters.search_index import Filters, SearchIndex, account_filter
from docstore_indexer.domain.extraction import DOCX, PPTX, XLSX, ExtractionFailed
from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS, InternalAuth, parse_keys

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


STALL_SECONDS = 120
"""How long the indexer may make no progress before the bench names what never became searchable."""


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


async def through_indexer(endpoints, documents: list[tuple[str, str, bytes]]) -> tuple[float, int]:
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
    # Sent together, so that they are extracted side by side and every worker process starts
    # (a pool starts its processes on first use) before the measurement.
    state = rng.getstate()  # the search part's random queries stay those of earlier runs
    # PDFs: their previews are quick (an Office file's preview starts LibreOffice for seconds).
    warm_up = [("txt", "text/plain", b"warm-up document")] + [
        (kind, content_type, make()) for kind, content_type, _, make in MIX if kind == "pdf"
    ] * 4
    rng.setstate(state)
    for i, (kind, content_type, data) in enumerate(warm_up + documents):
        document_id = f"doc-warm-{i}" if i < len(warm_up) else f"doc-{i - len(warm_up):04d}"
        upload_id = uuid.uuid4().hex
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
    progress(f"{len(events)} objects in S3 ({len(documents)} + {len(warm_up)} warm-up)")
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

    async def searchable_ids() -> set[str]:
        found: set[str] = set()
        for page in range(1, 100):
            response = await typesense.get(
                f"/collections/{COLLECTION}/documents/search",
                params={
                    "q": "*",
                    "filter_by": account_filter(account_id),
                    "per_page": 250,
                    "page": page,
                    "include_fields": "document_id",
                },
            )
            hits = response.json().get("hits", []) if response.status_code == 200 else []
            found |= {hit["document"]["document_id"] for hit in hits}
            if len(hits) < 250:
                return found
        return found

    try:
        await send(
            AccountCreated(
                account_id=account_id, username=account_id, email="b@example.com", plan="premium", home_region=REGION
            )
        )
        # Warm-up documents (worker starts, consumer assignment) outside the measurement; they
        # are searchable too, so every one of `documents` is timed and counted.
        warm, events = events[: len(warm_up)], events[len(warm_up) :]
        await asyncio.gather(*(send(event) for event in warm))
        while await searchable() < len(warm):
            await asyncio.sleep(0.1)
        progress(f"indexer: {len(warm)} warm-up documents searchable; sending {len(events)}")
        started = time.perf_counter()
        await asyncio.gather(*(send(event) for event in events))
        done, last_change = 0, time.monotonic()
        while done < len(events) + len(warm):
            await asyncio.sleep(0.1)
            now = await searchable()
            if now // 50 != done // 50:
                progress(f"indexer: {now - len(warm)}/{len(events)} searchable")
            if now != done:
                last_change = time.monotonic()
            done = now
            if time.monotonic() - last_change > STALL_SECONDS:
                # Name the documents that never became searchable instead of waiting forever.
                missing = sorted({e.document_id for e in events} - await searchable_ids())
                progress(f"indexer: no progress for {STALL_SECONDS} s; never searchable: {', '.join(missing)}")
                return last_change - started, len(events) - len(missing)
        return time.perf_counter() - started, len(events)
    finally:
        await producer.stop()
        await typesense.aclose()


def previews_settled(endpoints, timeout: float = 900.0) -> float:
    """Wait until the indexer has no preview left to render (none `due`); how long that took.

    Before the search part: the platform it starts has an indexer of its own on the same
    database, which would otherwise render the previews this one left due during the queries."""
    from pymongo import MongoClient

    started = time.perf_counter()
    client: MongoClient = MongoClient(endpoints.mongo_url)
    try:
        previews = client[f"docstore_indexer_{REGION.replace('-', '_')}"]["previews"]
        while previews.count_documents({"due": True}) > 0:
            if time.perf_counter() - started > timeout:
                progress(f"previews still due after {timeout:.0f} s; going on")
                break
            time.sleep(0.5)
    finally:
        client.close()
    return time.perf_counter() - started


# Search -----------------------------------------------------------------------------------

PASSWORD = "benchmark password, long enough"
PLATFORM_ENV = {
    # One client address signs up and logs in: keep the gateway's throttles out of the way.
    "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": "100000/minute",
    "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "100000/minute",
    "GATEWAY_LOGIN_LIMITS_PER_USERNAME": "10000/minute",
    "LOG_LEVEL": "WARNING",
}


async def premium_user(gateway: str) -> tuple[str, str]:
    """Sign up a Premium account and log in through the gateway, as a user does: (account id, token)."""
    username = f"bench-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        created = await http.post(
            "/v1/accounts",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD, "plan": "premium"},
        )
        assert created.status_code == 201, created.text
        login = await http.post("/v1/sessions", json={"username": username, "password": PASSWORD})
        assert login.status_code == 201, login.text
        account_id, token = created.json()["account_id"], login.json()["token"]
        # The indexer learns the plan from `account.created`: wait until search answers 200.
        deadline = time.monotonic() + 120
        while True:
            answer = await http.get("/v1/search", params={"q": "x"}, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200:
                return account_id, token
            if time.monotonic() > deadline:
                raise RuntimeError(f"search never answered 200: {answer.status_code} {answer.text[:200]}")
            await asyncio.sleep(0.2)


def queries(count: int) -> list[str]:
    vocabulary = WORDS + [f"{a}{b}" for a in ("zor", "mip", "tak", "lun", "bex") for b in WORDS]
    chosen = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            chosen.append(rng.choice(vocabulary))
        elif kind == 1:
            chosen.append(f"{rng.choice(WORDS)} {rng.choice(WORDS)}")
        elif kind == 2:
            chosen.append(f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"')
        else:
            word = rng.choice(WORDS)
            chosen.append(word[:-2] + word[-1] + word[-2] if len(word) > 4 else word)  # a typo
    return chosen


def py_spy(pids: dict[str, int], folder: Path | None) -> list[subprocess.Popen[bytes]]:
    """`py-spy record` of each process in `pids` into `folder` (none without a folder)."""
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            ["py-spy", "record", "-p", str(pid), "-f", "raw", "-r", "200", "-o", str(folder / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def stop_py_spy(recorders: list[subprocess.Popen[bytes]]) -> None:
    for recorder in recorders:
        recorder.send_signal(2)  # SIGINT: py-spy writes its profile and exits
    for recorder in recorders:
        recorder.wait(timeout=60)


async def search_latency(
    endpoints,
    urls: dict[str, str],
    documents: int,
    count: int,
    *,
    profiled: dict[str, int] | None = None,
    profile_dir: Path | None = None,
) -> tuple[dict[str, list[float]], float]:
    """Import `documents` into the indexer's collection (the logged-in account owns 1/200 of them),
    then time each query raw, through the adapter and through the gateway, interleaved."""
    gateway = urls["gateway"]
    account_id, token = await premium_user(gateway)
    index = SearchIndex.connect(endpoints.typesense_url, endpoints.typesense_api_key, COLLECTION, timeout=300)
    accounts = [account_id] + [f"acct-{i:03d}" for i in range(199)]
    vocabulary = WORDS + [f"{a}{b}" for a in ("zor", "mip", "tak", "lun", "bex") for b in WORDS]
    http = httpx.AsyncClient(base_url=gateway, timeout=60, headers={"Authorization": f"Bearer {token}"})
    # The indexer's own route, called as the gateway calls it (a fresh identity token per request).
    internal = InternalAuth("gateway", parse_keys(DEV_KEYS), DEV_KEY_ID)
    direct = httpx.AsyncClient(
        base_url=urls["indexer"], timeout=60, auth=internal.client_auth("indexer", subject=account_id, role="user")
    )
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

        async def raw(q: str) -> None:
            # What the adapter sends, straight to Typesense (no highlight post-processing).
            response = await index.http.get(
                f"/collections/{COLLECTION}/documents/search",
                params={
                    "q": q,
                    "query_by": "name,text,tags",
                    "query_by_weights": "3,1,2",
                    "filter_by": Filters().clauses(account_id),
                    "sort_by": "_text_match:desc,created_at:desc",
                    "page": 1,
                    "per_page": 20,
                    "highlight_fields": "text,name",
                    "highlight_start_tag": "<mark>",
                    "highlight_end_tag": "</mark>",
                    "snippet_threshold": 30,
                    "highlight_affix_num_tokens": 12,
                    "exclude_fields": "text",
                },
            )
            assert response.status_code == 200, response.text

        async def adapter(q: str) -> None:
            await index.search(account_id, q, page=1, per_page=20)

        async def gateway_path(q: str) -> None:
            response = await http.get("/v1/search", params={"q": q, "limit": 20})
            assert response.status_code == 200, response.text

        async def indexer_path(q: str) -> None:
            response = await direct.get("/search", params={"q": q, "limit": 20})
            assert response.status_code == 200, response.text

        paths = {"raw": raw, "adapter": adapter, "indexer": indexer_path, "gateway": gateway_path}
        samples: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths)
        recorders: list[subprocess.Popen[bytes]] = []
        for i, q in enumerate(queries(count + 20)):
            if i == 20:
                recorders = py_spy(profiled or {}, profile_dir)
            rng.shuffle(order)  # interleaved, in a random order: the machine's noise falls on all three
            for name in order:
                t = time.perf_counter()
                await paths[name](q)
                if i >= 20:
                    samples[name].append(time.perf_counter() - t)
        stop_py_spy(recorders)
        return samples, imported
    finally:
        await http.aclose()
        await direct.aclose()
        await index.close()


def search(
    endpoints,
    folder: Path,
    documents: int,
    queries: int,
    *,
    platform_env: dict[str, str] | None = None,
    profile_dir: Path | None = None,
) -> tuple[dict[str, list[float]], float]:
    """The whole platform started beside the servers, then `search_latency`."""
    progress("starting the platform (gateway, metadata, upload, quota, indexer, notify) ...")
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    wiring = region_wiring({REGION: service_urls(ports)}, REGION, primary=REGION)
    platform = ServiceProcesses(
        endpoints,
        folder / "platform",
        region=REGION,
        ports=ports,
        extra_env=wiring | PLATFORM_ENV | (platform_env or {}),
    )
    try:
        urls = platform.start()
        pids = platform.pids()
        profiled = {name: pids[name] for name in ("gateway", "indexer")}
        return asyncio.run(
            search_latency(endpoints, urls, documents, queries, profiled=profiled, profile_dir=profile_dir)
        )
    finally:
        platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--search-documents", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print one JSON object with the figures as the last line")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--no-search", action="store_true", help="measure the indexer's throughput only")
    parts.add_argument("--no-index", action="store_true", help="measure search only (no throughput part)")
    parser.add_argument(
        "--indexer-env", action="append", default=[], metavar="NAME=VALUE", help="a setting of the indexer service"
    )
    parser.add_argument(
        "--platform-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of every service of the search part",
    )
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR", help="profile gateway and indexer")
    args = parser.parse_args()
    indexer_env = dict(item.split("=", 1) for item in args.indexer_env)
    platform_env = dict(item.split("=", 1) for item in args.platform_env)
    if not args.no_index:
        progress(f"building {args.documents} mixed documents ...")
    documents = [] if args.no_index else make_documents(args.documents)
    kinds: dict[str, int] = {}
    for kind, _, _ in documents:
        kinds[kind] = kinds.get(kind, 0) + 1
    raw_seconds = indexer_seconds = 0.0
    indexed = 0
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder,
        servers_running(Path(folder), REGION) as endpoints,
    ):
        previews_seconds = None
        if documents:
            with indexer_running(endpoints, Path(folder), REGION, extra_env=indexer_env):
                # The raw extractors before and after the indexer, averaged: on a shared machine the
                # load changes during a run, and this way both figures see the same stretch of it.
                raw_before = raw_extraction(documents)
                indexer_seconds, indexed = asyncio.run(through_indexer(endpoints, documents))
                progress(f"indexer: {indexed} of {len(documents)} searchable in {indexer_seconds:.1f} s")
                previews_seconds = None if args.no_search else previews_settled(endpoints)
                if previews_seconds is not None:
                    progress(f"previews of those documents all rendered {previews_seconds:.1f} s later")
            # The second pass with the indexer stopped: previews it renders after the last document
            # became searchable (they wait while uploads are extracted) would slow this pass and
            # flatter the ratio; the first pass ran before any upload, beside the idle indexer.
            raw_seconds = (raw_before + raw_extraction(documents)) / 2
        samples: dict[str, list[float]] = {}
        import_seconds = 0.0
        if not args.no_search:
            samples, import_seconds = search(
                endpoints,
                Path(folder),
                args.search_documents,
                args.queries,
                platform_env=platform_env,
                profile_dir=args.py_spy,
            )
    throughput: dict[str, object] = {}
    if documents:
        raw_rate = len(documents) / raw_seconds
        indexer_rate = indexed / indexer_seconds
        print(f"\n{len(documents)} mixed documents: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        print(f"{'raw extractors (in process, sequential)':46} {raw_rate:8.1f} docs/s   ({raw_seconds:.1f} s)")
        print(
            f"{'through the indexer (S3 -> extract -> index)':46} {indexer_rate:8.1f} docs/s   "
            f"({indexer_seconds:.1f} s; {indexed} of {len(documents)} searchable, after the warm-up)"
        )
        print(f"{'ratio indexer / raw':46} {indexer_rate / raw_rate:8.2f} x")
        throughput = {
            "raw_extract_docs_per_s": round(raw_rate, 1),
            "indexer_docs_per_s": round(indexer_rate, 1),
            "ratio_indexer_raw": round(indexer_rate / raw_rate, 2),
            **({} if previews_seconds is None else {"previews_settled_s": round(previews_seconds, 1)}),
            "indexer_env": indexer_env,
        }
    figures: dict[str, float] = {}
    if samples:
        print(
            f"\nsearch at {args.search_documents} documents ({args.search_documents // 200} per account, 200 accounts; "
            f"bulk import {import_seconds:.1f} s), {args.queries} queries, each one four ways, interleaved"
        )
        labels = {
            "raw": "raw Typesense query (same parameters)",
            "adapter": "indexer's search adapter (in process)",
            "indexer": "HTTP: indexer -> Typesense (as the gateway)",
            "gateway": "HTTP: gateway -> indexer -> Typesense",
        }
        for name, label in labels.items():
            p50, p99 = percentile(samples[name], 50) * 1000, percentile(samples[name], 99) * 1000
            figures[f"search_{name}_p50_ms"], figures[f"search_{name}_p99_ms"] = round(p50, 2), round(p99, 2)
            print(f"{label:46} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   (n={len(samples[name])})")
        for name in ("adapter", "indexer", "gateway"):
            for q in ("p50", "p99"):
                figures[f"ratio_{name}_raw_{q}"] = round(
                    figures[f"search_{name}_{q}_ms"] / figures[f"search_raw_{q}_ms"], 2
                )
        print(
            f"{'ratio gateway / raw':46} p50 {figures['ratio_gateway_raw_p50']:6.2f} x    "
            f"p99 {figures['ratio_gateway_raw_p99']:6.2f} x   (goal p99 <= 3 x and < 25 ms)"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "indexer",
                    "documents": len(documents),
                    "searchable": indexed,
                    **throughput,
                    "platform_env": platform_env,
                    "search_documents": 0 if args.no_search else args.search_documents,
                    "queries": 0 if args.no_search else args.queries,
                    **figures,
                }
            )
        )


if __name__ == "__main__":
    main()

"""Upload throughput: our grant + signed upload + completion path against raw S3, same run.

Starts the real servers and every DocStore service on free ports, then measures:
  1. one large file (default 1 GiB) through our multipart grant with parallel part PUTs
     and our completion call (it answers once S3 has joined the parts), against
     `boto3.upload_file` of the same file to the same SeaweedFS; then, separately, how long
     until upload has read size, ETag and sha256 back and recorded the completion, and the floor
     of that read-back: the raw object read and hashed by a plain script (one GET, as upload's
     adapter reads, and 8 MiB ranges four ahead, as it read before; A B B A, the mean of each way),
     wall and CPU seconds;
  2. many small files (default 1,000 x 10 KiB) through the batch routes (`POST /v1/uploads/batch`
     with each file's sha256 and `put: true`, presigned PUTs pinned to those bytes,
     `POST /v1/uploads/batch/complete`; `--forms`: also as pinned POST forms, `--staged`: also
     without sha256, forms to a staging key copied at completion; `--batch` files per request, a few batches
     in flight so the S3 POSTs never wait on a grant or a completion, at most `--parallel` S3
     requests from the client at a time), against raw presigned PUTs of the same bytes at the
     same concurrency; and `--single-small` files (default 200, 0 skips) through the single-file
     routes (grant + POST + complete per file), as measured before the batch routes existed;
  3. with `--floor`, the small files' floor on these servers: the raw PUTs again, plus the database
     commands and broker records DocStore was counted sending per file, sent by a plain script
     and its records read by as many consumer groups as read DocStore's on average (from the
     groups' subscriptions in the broker's log) (`floor_small`), and its CPU per file against raw's.
Prints times, throughputs and the ratios (raw time / our time: 1.0 means as fast as raw);
with `--json`, the last line of stdout is one JSON object with every figure.
Listing and metadata search at 100k documents are measured by bench/listing.py.

    uv run python bench/upload.py [--large-mib 1024] [--small 1000] [--parallel 8] [--batch 100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import urllib3
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from counts import group_subscriptions, groups_per_record, settled, snapshot, stop_tails
from pymongo import AsyncMongoClient

from docstore_devplatform import probes
from docstore_devplatform.ports import HOST
from docstore_devplatform.servers import Servers
from docstore_devplatform.services import ServiceProcesses
from docstore_events import all_topics

MIB = 1024 * 1024
BUCKET = "docstore-us-west-2"


def _descendant_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process and each of its descendants, by a short name
    (Linux /proc; empty elsewhere). Diagnostic only: where a phase's CPU went on a shared box."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    raw = Path(f"/proc/{entry}/stat").read_text()
                    fields = raw[raw.rindex(")") + 2 :].split()
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                    stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmd)
    except OSError:
        return {}
    ours, added = {os.getpid()}, True
    while added:
        added = False
        for pid, (ppid, _, _) in stats.items():
            if ppid in ours and pid not in ours:
                ours.add(pid)
                added = True
    used: dict[str, float] = {}
    for pid in ours:
        if pid not in stats:
            continue
        _, seconds, cmd = stats[pid]
        words = [w.decode(errors="replace") for w in cmd if w]
        name = next((w.split(".")[0] for w in words if w.startswith("docstore_")), None)
        if pid == os.getpid():
            name = "bench client"
        if name is None and any("secantus" in w.lower() for w in words):
            name = "secantusdb"
        elif name is None and any("multiprocessing" in w for w in words):
            name = "process-pool workers"  # spawned children (the indexer's extract and render pools)
        elif name is None and words and Path(words[0]).name == "weed":
            # Two SeaweedFS: the platform's S3 store and the one that holds the broker's log
            # (`-dir=<data>/kafka-log`); apart, since their costs have different causes.
            log_store = any(w.startswith("-dir=") and w.rstrip("/").endswith("/kafka-log") for w in words)
            name = "weed (broker log)" if log_store else "weed (S3 store)"
        name = name or (Path(words[0]).name if words else "?")
        used[name] = used.get(name, 0.0) + seconds
    return used


def cpu_report(before: dict[str, float], after: dict[str, float], files: int) -> str:
    """CPU milliseconds per file by process between two `_descendant_cpu` snapshots."""
    spent = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    top = sorted(((s, n) for n, s in spent.items() if s > 0.005), reverse=True)
    total = sum(s for s, _ in top)
    return f"{total / files * 1000:.1f} ms CPU/file: " + ", ".join(f"{n} {s / files * 1000:.1f}" for s, n in top)


async def reads(api: httpx.AsyncClient, auth: dict, endpoints, topics: list[str], count: int) -> dict:
    """What the two commonest reads send, per request, counted at the servers once settled: a page of
    50 documents (`GET /v1/documents`) and a download URL (`GET /v1/documents/{id}/download`, whose
    audit record is an event). One request at a time, `count` of each; 0 skips."""
    if not count:
        return {}
    figures: dict = {}
    page = (await api.get("/v1/documents", headers=auth, params={"limit": 50})).json()["items"]
    ids = [item["document_id"] for item in page]
    for name, path in (
        ("list_page", lambda n: "/v1/documents?limit=50"),
        ("download_url", lambda n: f"/v1/documents/{ids[n % len(ids)]}/download"),
    ):
        before = await snapshot(endpoints, topics)
        for n in range(count):
            (await api.get(path(n), headers=auth)).raise_for_status()
        sent = (await settled(endpoints, topics)) - before
        print(f"  {name} x{count}: {sent.line(count).replace('per file', 'per request')}", file=sys.stderr)
        figures.update(
            {f"{name}_{key.replace('per_file', 'per_request')}": value for key, value in sent.per(count).items()}
        )
    return figures


def cpu_total(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds used by every process between two `_descendant_cpu` snapshots."""
    return sum(max(0.0, after.get(name, 0.0) - before.get(name, 0.0)) for name in after)


def file_bytes(payload: bytes, n: int, run: int = 0) -> bytes:
    """The n-th small file of a run: distinct bytes per file and run (else the account's dedupe
    would copy them instead of having them sent)."""
    return run.to_bytes(4, "big") + n.to_bytes(8, "big") + payload[12:]


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r{label:12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def account(api: httpx.AsyncClient) -> dict[str, str]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    password = "benchmark password"
    created = await api.post(
        "/v1/accounts", json={"username": name, "email": f"{name}@example.com", "password": password, "plan": "premium"}
    )
    created.raise_for_status()
    token = (await api.post("/v1/sessions", json={"username": name, "password": password})).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def ours_large(api: httpx.AsyncClient, auth: dict, path: Path, parallel: int) -> tuple[float, float]:
    """Seconds until the completion call answered, and until the completion was recorded."""
    size = (await asyncio.to_thread(path.stat)).st_size  # off the event loop (ASYNC240)
    started = time.perf_counter()
    grant = await api.post(
        "/v1/uploads",
        headers=auth,
        json={"filename": path.name, "size": size, "content_type": "application/octet-stream", "multipart": True},
    )
    grant.raise_for_status()
    body = grant.json()
    plan = body["multipart"]
    done = 0

    def put_part(part: dict) -> None:
        # Threads and urllib3, as boto3 sends its parts: the comparison is of the two
        # upload paths, not of two HTTP clients.
        nonlocal done
        with path.open("rb") as handle:
            handle.seek((part["part_number"] - 1) * plan["part_size"])
            data = handle.read(plan["part_size"])
        response = s3.request("PUT", part["url"], body=data)
        if response.status != 200:
            raise RuntimeError(f"part {part['part_number']}: {response.status} {response.data[:200]!r}")
        done += 1
        progress("ours parts", done, plan["part_count"])

    s3 = urllib3.PoolManager(maxsize=parallel, timeout=300, retries=False)
    with ThreadPoolExecutor(parallel) as pool:
        await asyncio.gather(*(asyncio.wrap_future(pool.submit(put_part, part)) for part in plan["parts"]))
    parts_done = time.perf_counter()
    completed = await api.post(f"/v1/uploads/{body['upload_id']}/complete", headers=auth, timeout=600)
    completed.raise_for_status()
    answered = time.perf_counter()
    while (state := (await api.get(f"/v1/uploads/{body['upload_id']}", headers=auth)).json())["status"] != "completed":
        assert state["status"] == "verifying", state
        await asyncio.sleep(0.02)
    assert state["size"] == size
    recorded = time.perf_counter()
    print(
        f"  (ours: grant + parts {parts_done - started:.2f} s, complete answered {answered - parts_done:.2f} s, "
        f"read back and recorded {recorded - answered:.2f} s later)",
        file=sys.stderr,
    )
    return answered - started, recorded - started


def raw_large(s3, path: Path, parallel: int, key: str) -> float:
    started = time.perf_counter()
    s3.upload_file(str(path), BUCKET, key, Config=TransferConfig(max_concurrency=parallel))
    return time.perf_counter() - started


READ_BACK_CHUNK = 8 * MIB


def raw_read_back(s3, key: str, *, ranges: bool) -> tuple[float, float]:
    """The floor of upload's read-back: the object at `key` read and hashed by a plain script, as
    upload's storage adapter does it (one GET, hashed as it streams), or as it did before
    2026-11-29 (8 MiB ranges, four fetched ahead). Wall and CPU seconds of this process."""
    started, cpu = time.perf_counter(), time.process_time()
    digest = hashlib.sha256()
    if ranges:
        size = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]

        def fetch(start: int) -> bytes:
            end = min(start + READ_BACK_CHUNK, size) - 1
            return s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={start}-{end}")["Body"].read()

        with ThreadPoolExecutor(4) as pool:
            for block in pool.map(fetch, range(0, size, READ_BACK_CHUNK)):
                digest.update(block)
    else:
        for block in s3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(READ_BACK_CHUNK):
            digest.update(block)
    return time.perf_counter() - started, time.process_time() - cpu


async def ours_small(api: httpx.AsyncClient, auth: dict, count: int, payload: bytes, parallel: int) -> float:
    done = 0
    semaphore = asyncio.Semaphore(parallel)

    async def one(n: int, s3: httpx.AsyncClient) -> None:
        nonlocal done
        async with semaphore:
            grant = await api.post(
                "/v1/uploads",
                headers=auth,
                json={"filename": f"small-{n}.txt", "size": len(payload), "content_type": "text/plain"},
            )
            grant.raise_for_status()
            form = grant.json()["form"]
            posted = await s3.post(form["url"], data=form["fields"], files={"file": ("f", payload, "text/plain")})
            posted.raise_for_status()
            (await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=auth)).raise_for_status()
            done += 1
            if done % max(1, count // 20) == 0:
                progress("ours small", done, count)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as s3:
        await asyncio.gather(*(one(n, s3) for n in range(count)))
    return time.perf_counter() - started


async def ours_small_batched(
    api: httpx.AsyncClient,
    auth: dict,
    count: int,
    payload: bytes,
    parallel: int,
    batch: int,
    *,
    sha256: bool = True,
    put: bool = True,
    run: int = 0,
) -> float:
    """Seconds for `count` files through the batch routes; every file ends completed (checked)."""
    done = 0
    s3_slots = asyncio.Semaphore(parallel)  # the client's S3 requests in flight, as for raw
    chunks = [list(range(start, min(start + batch, count))) for start in range(0, count, batch)]
    queue: asyncio.Queue[list[int]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def post(grant: dict, data: bytes, s3: httpx.AsyncClient) -> None:
        async with s3_slots:
            if grant.get("put"):  # a presigned PUT pinned to these bytes (its signed headers with it)
                sent = await s3.put(grant["put"]["url"], content=data, headers=grant["put"]["headers"])
            else:
                form = grant["form"]
                sent = await s3.post(form["url"], data=form["fields"], files={"file": ("f", data, "text/plain")})
            sent.raise_for_status()

    phases = {"grant": 0.0, "posts": 0.0, "complete": 0.0}

    async def worker(s3: httpx.AsyncClient) -> None:
        nonlocal done
        while not queue.empty():
            chunk = queue.get_nowait()
            # With each file's sha256 (as the sync client sends it): the forms are pinned to those
            # bytes and write the version's key directly (services/upload/README.md).
            items = [
                {"filename": f"small-{n}.txt", "size": len(payload), "content_type": "text/plain"}
                | ({"sha256": hashlib.sha256(file_bytes(payload, n, run)).hexdigest(), "put": put} if sha256 else {})
                for n in chunk
            ]
            t0 = time.perf_counter()
            granted = await api.post("/v1/uploads/batch", headers=auth, json={"uploads": items})
            if granted.is_error:
                print(f"\n  batch grant answered {granted.status_code}: {granted.text[:500]}", file=sys.stderr)
            granted.raise_for_status()
            grants = [r["grant"] for r in granted.json()["results"]]
            assert all(grants), granted.json()
            t1 = time.perf_counter()
            await asyncio.gather(
                *(post(g, file_bytes(payload, n, run), s3) for g, n in zip(grants, chunk, strict=True))
            )
            t2 = time.perf_counter()
            completed = await api.post(
                "/v1/uploads/batch/complete", headers=auth, json={"upload_ids": [g["upload_id"] for g in grants]}
            )
            completed.raise_for_status()
            results = completed.json()["results"]
            assert all(r["upload"] and r["upload"]["status"] == "completed" for r in results), results
            t3 = time.perf_counter()
            phases["grant"] += t1 - t0
            phases["posts"] += t2 - t1
            phases["complete"] += t3 - t2
            done += len(chunk)
            progress("ours batch", done, count)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=parallel * 2)) as s3:
        # Enough batches in flight that one is POSTing while another is granted or completed.
        await asyncio.gather(*(worker(s3) for _ in range(min(4, len(chunks)))))
    elapsed = time.perf_counter() - started
    per_batch = ", ".join(f"{name} {seconds / len(chunks) * 1000:.0f} ms" for name, seconds in phases.items())
    print(f"  (batches: {len(chunks)} of {batch}, average per batch: {per_batch})", file=sys.stderr)
    return elapsed


async def presigned_put(s3_client, http: httpx.AsyncClient, prefix: str, data: bytes) -> None:
    """`data` to a new key under `prefix`, by a presigned PUT as a client with no DocStore would send it."""
    url = s3_client.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": f"{prefix}/{uuid.uuid4()}"}, ExpiresIn=300
    )
    (await http.put(url, content=data)).raise_for_status()


async def raw_small(s3_client, count: int, payload: bytes, parallel: int) -> float:
    done = 0
    semaphore = asyncio.Semaphore(parallel)

    async def one(n: int, http: httpx.AsyncClient) -> None:
        nonlocal done
        async with semaphore:
            await presigned_put(s3_client, http, "bench/raw-small", file_bytes(payload, n))
            done += 1
            if done % max(1, count // 20) == 0:
                progress("raw small", done, count)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(one(n, http) for n in range(count)))
    return time.perf_counter() - started


FLOOR_TOPIC = "bench.floor"


class FloorClients:
    """A plain script's clients of the servers, for `floor_small`: a database collection of its
    own, a producer (acks=all) and `groups` consumer groups of a topic of its own (one member
    each, committing after each batch as DocStore's consumers do), joined and reading before the
    floor is timed (Tansu holds a group's first join for seconds)."""

    def __init__(self, endpoints, groups: int = 1) -> None:
        self.endpoints = endpoints
        self.mongo: AsyncMongoClient = AsyncMongoClient(endpoints.mongo_url)
        self.rows = self.mongo["bench_floor"]["files"]
        self.producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, acks="all")
        self.consumers = [
            AIOKafkaConsumer(
                FLOOR_TOPIC,
                bootstrap_servers=endpoints.kafka_bootstrap,
                group_id=f"bench-floor-{n}",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            for n in range(max(1, groups))
        ]

    async def __aenter__(self) -> FloorClients:
        await asyncio.to_thread(probes.create_topics, self.endpoints.kafka_bootstrap, [FLOOR_TOPIC])
        await self.producer.start()
        await asyncio.gather(*(consumer.start() for consumer in self.consumers))
        await self.producer.send_and_wait(FLOOR_TOPIC, b"warm-up")
        for consumer in self.consumers:
            while not any((await consumer.getmany(timeout_ms=1000)).values()):
                pass
            await consumer.commit()
        await self.rows.find_one({})
        return self

    async def __aexit__(self, *exc: object) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        await self.producer.stop()
        await self.mongo.close()


async def floor_small(
    clients: FloorClients, s3_client, count: int, payload: bytes, parallel: int, batch: int, ops: dict, records: float
) -> float:
    """The floor of the batch routes on these servers: the raw presigned PUTs of `raw_small`, plus,
    per batch of `batch` files, as many database commands of each kind as DocStore sent per file
    (`ops`: by kind, counted over its run until settled) and `records` broker records per file,
    sent by a plain script: each command on one small document, the records produced with
    acks=all (a batch's all sent, then awaited, as the outbox relay does) and read as they come
    by each of the clients' consumer groups, which commit after each batch. DocStore's commands
    carry up to a batch of documents each, so this is a lower bound of what the same counts cost.
    Seconds until every PUT, command and record was acknowledged and every group read every record."""
    rows, producer = clients.rows, clients.producer
    owed = dict.fromkeys(ops, 0.0)  # the fraction of a command carried to the next batch, by kind
    owed_records = 0.0
    sent_records = 0
    sending = True
    s3_slots = asyncio.Semaphore(parallel)

    def take(kind: str, files: int) -> int:
        owed[kind] += ops.get(kind, 0.0) * files
        whole = int(owed[kind])
        owed[kind] -= whole
        return whole

    async def put(n: int, http: httpx.AsyncClient) -> None:
        async with s3_slots:
            await presigned_put(s3_client, http, "bench/floor-small", file_bytes(payload, n, 3))

    async def database(files: int) -> None:
        ids = [uuid.uuid4().hex for _ in range(take("insert", files))]
        for row_id in ids:
            await rows.insert_one({"_id": row_id, "size": len(payload), "status": "granted", "at": time.time()})
        known = ids or ["none"]
        for n in range(take("update", files)):
            await rows.update_one({"_id": known[n % len(known)]}, {"$set": {"status": "completed"}})
        for n in range(take("query", files) + take("getmore", files)):
            await rows.find_one({"_id": known[n % len(known)]})
        for n in range(take("delete", files)):
            await rows.delete_one({"_id": f"absent-{n}"})
        for _ in range(take("command", files)):
            await rows.count_documents({"status": "granted"}, limit=1)

    async def worker(http: httpx.AsyncClient, queue: list[list[int]]) -> None:
        nonlocal owed_records, sent_records
        while queue:
            files = queue.pop()
            await asyncio.gather(*(put(n, http) for n in files))
            await database(len(files))
            owed_records += records * len(files)
            acknowledgements = [
                await producer.send(FLOOR_TOPIC, value=os.urandom(400), key=str(n).encode())
                for n in range(int(owed_records))
            ]
            sent_records += len(acknowledgements)
            owed_records -= len(acknowledgements)
            await asyncio.gather(*acknowledgements)

    async def reader(consumer: AIOKafkaConsumer) -> None:
        read = 0
        while sending or read < sent_records:
            batches = await consumer.getmany(timeout_ms=200)
            if batches:
                read += sum(len(batch) for batch in batches.values())
                await consumer.commit()

    started = time.perf_counter()
    queue = [list(range(start, min(start + batch, count))) for start in range(0, count, batch)][::-1]
    reading = [asyncio.create_task(reader(consumer)) for consumer in clients.consumers]
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=parallel * 2)) as http:
        await asyncio.gather(*(worker(http, queue) for _ in range(min(4, len(queue)))))
    sending = False
    await asyncio.gather(*reading)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--small-kib", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="files per batch request (at most 100)")
    parser.add_argument("--single-small", type=int, default=200, help="files through the single routes (0: skip)")
    parser.add_argument(
        "--staged", action="store_true", help="also batches without sha256 (forms write a staging key, copied)"
    )
    parser.add_argument(
        "--forms", action="store_true", help="also batches with sha256 as pinned POST forms (not presigned PUTs)"
    )
    parser.add_argument(
        "--reads", type=int, default=200, help="list pages and download URLs to count commands for (0: skip)"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also the small files' floor: raw PUTs plus DocStore's counts of commands and records, from a plain script",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object of every figure")
    args = parser.parse_args()
    if args.small < 1:
        # Every per-file figure divides by it; for the large file alone, `--small 30` adds a few seconds.
        parser.error("--small must be at least 1 (for the large file alone, --small 30 is quick)")
    with tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder:
        root = Path(folder)
        big = root / "large.bin"
        with big.open("wb") as handle:
            for _ in range(args.large_mib):
                handle.write(os.urandom(MIB))
        payload = os.urandom(args.small_kib * 1024)
        print("starting servers and services ...", file=sys.stderr)
        servers = Servers(root / "servers", ports="auto", topics=all_topics(), buckets=[BUCKET])
        endpoints = servers.start()
        system = ServiceProcesses(endpoints, root / "system", ports="auto")
        try:
            urls = system.start()
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoints.s3_endpoint,
                aws_access_key_id=endpoints.s3_access_key,
                aws_secret_access_key=endpoints.s3_secret_key,
                region_name="us-west-2",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32),
            )

            async def run() -> tuple[float, tuple[float, float], float, float, float | None]:
                async with httpx.AsyncClient(base_url=urls["gateway"], timeout=120) as api:
                    auth = await account(api)
                    raw_key = f"bench/raw/{uuid.uuid4()}"
                    raw_big = await asyncio.to_thread(raw_large, s3, big, args.parallel, raw_key)
                    our_big = await ours_large(api, auth, big, args.parallel)
                    # The read-back's floor, once upload's own is over: each way twice, A B B A
                    # (the first read of an object may find it colder), the mean of the two.
                    for way, ranges in (("one_get", False), ("ranges", True), ("ranges", True), ("one_get", False)):
                        wall, cpu_s = await asyncio.to_thread(raw_read_back, s3, raw_key, ranges=ranges)
                        for name, value in ((f"raw_read_back_{way}_s", wall), (f"raw_read_back_{way}_cpu_s", cpu_s)):
                            figures[name] = round(figures.get(name, 0.0) + value / 2, 3)
                    topics = all_topics()
                    cpu = _descendant_cpu()
                    raw_many = await raw_small(s3, args.small, payload, args.parallel)
                    cpu_raw = _descendant_cpu()
                    counts_before = await snapshot(endpoints, topics)
                    our_many = await ours_small_batched(api, auth, args.small, payload, args.parallel, args.batch)
                    cpu_ours = _descendant_cpu()
                    # Every consumer has caught up once the last completion's effects are in: the
                    # batches wait for "completed", so only the events' consumers may still be
                    # writing. Counting then covers the whole cost of each file.
                    settling = time.monotonic()
                    counts_after = await settled(endpoints, topics)
                    cpu_settled = _descendant_cpu()
                    figures["settled_after_s"] = round(time.monotonic() - settling, 1)
                    sent = counts_after - counts_before
                    print(f"  raw small:  {cpu_report(cpu, cpu_raw, args.small)}", file=sys.stderr)
                    print(f"  ours small: {cpu_report(cpu_raw, cpu_ours, args.small)}", file=sys.stderr)
                    print(f"  ours small: {sent.line(args.small)}", file=sys.stderr)
                    print(f"  ours, until settled: {cpu_report(cpu_raw, cpu_settled, args.small)}", file=sys.stderr)
                    per_file = sent.per(args.small)
                    figures.update(per_file)
                    if args.floor:
                        # As many groups as read DocStore's records, on average (Tansu keeps each
                        # group's subscription in its log).
                        log_store = probes.s3_client(
                            f"http://{HOST}:{servers.ports.kafka_log_s3}",
                            endpoints.s3_access_key,
                            endpoints.s3_secret_key,
                        )
                        readers = groups_per_record(
                            per_file["broker_records_per_file_by_topic"], group_subscriptions(log_store)
                        )
                        figures["floor_groups_per_record"] = round(readers, 2)
                        async with FloorClients(endpoints, groups=round(readers)) as clients:
                            cpu_floor_before = _descendant_cpu()
                            floor_many = await floor_small(
                                clients,
                                s3,
                                args.small,
                                payload,
                                args.parallel,
                                args.batch,
                                per_file["db_ops_per_file_by_kind"],
                                sent.broker_records / args.small,
                            )
                            cpu_floor = _descendant_cpu()
                        print(f"  floor small: {cpu_report(cpu_floor_before, cpu_floor, args.small)}", file=sys.stderr)
                        figures["floor_small_files_per_s"] = round(args.small / floor_many, 1)
                        figures["cpu_ms_per_file_floor"] = round(
                            cpu_total(cpu_floor_before, cpu_floor) * 1000 / args.small, 2
                        )
                    figures.update(await reads(api, auth, endpoints, topics, args.reads))
                    await stop_tails()
                    figures["cpu_ms_per_file_raw"] = round(cpu_total(cpu, cpu_raw) * 1000 / args.small, 2)
                    figures["cpu_ms_per_file_ours"] = round(cpu_total(cpu_raw, cpu_ours) * 1000 / args.small, 2)
                    figures["cpu_ms_per_file_ours_settled"] = round(
                        cpu_total(cpu_raw, cpu_settled) * 1000 / args.small, 2
                    )
                    print(
                        f"  (raw {args.small / raw_many:.1f} files/s, batches {args.small / our_many:.1f} files/s)",
                        file=sys.stderr,
                    )
                    # Other shapes of the same batches, for comparison: pinned POST forms, and
                    # items without sha256 (forms to a staging key, copied at completion).
                    shapes = [
                        ("forms", "pinned_forms", args.forms, {"put": False, "run": 1}),
                        ("staged", "staged", args.staged, {"sha256": False, "run": 2}),
                    ]
                    for label, name, wanted, shape in shapes:
                        if not wanted:
                            continue
                        before = _descendant_cpu()
                        took = await ours_small_batched(
                            api, auth, args.small, payload, args.parallel, args.batch, **shape
                        )
                        print(
                            f"  {label + ':':<11} {cpu_report(before, _descendant_cpu(), args.small)}", file=sys.stderr
                        )
                        figures[f"{name}_small_files_per_s"] = round(args.small / took, 1)
                        figures[f"ratio_small_{name}"] = round(raw_many / took, 3)
                    our_single = None
                    if args.single_small:
                        our_single = await ours_small(api, auth, args.single_small, payload, args.parallel)
                    return raw_big, our_big, raw_many, our_many, our_single

            figures: dict[str, float] = {}
            raw_big, (our_big, our_big_recorded), raw_many, our_many, our_single = asyncio.run(run())
        finally:
            system.stop()
            servers.stop()
    size_mib = args.large_mib
    print(f"\nlarge file: {size_mib} MiB, {args.parallel} parallel parts / threads")
    print(f"  boto3.upload_file (raw S3)           {raw_big:8.2f} s  {size_mib / raw_big:8.1f} MiB/s")
    print(f"  DocStore grant + parts + complete    {our_big:8.2f} s  {size_mib / our_big:8.1f} MiB/s")
    print(f"  ratio raw/ours                       {raw_big / our_big:8.2f}   (target >= 0.9)")
    print(f"  ... until sha256 read back, recorded {our_big_recorded:8.2f} s  ratio {raw_big / our_big_recorded:.2f}")
    print(
        f"  read back by a plain script: one GET {figures['raw_read_back_one_get_s']:.2f} s "
        f"({figures['raw_read_back_one_get_cpu_s']:.2f} CPU-s), 8 MiB ranges 4 ahead "
        f"{figures['raw_read_back_ranges_s']:.2f} s ({figures['raw_read_back_ranges_cpu_s']:.2f} CPU-s)"
    )
    print(f"\nsmall files: {args.small} x {args.small_kib} KiB, {args.parallel} at a time")
    print(f"  raw presigned PUTs                   {raw_many:8.2f} s  {args.small / raw_many:8.1f} files/s")
    print(
        f"  DocStore batches of {args.batch:<3} (grant, pinned PUTs, complete) {our_many:8.2f} s  "
        f"{args.small / our_many:8.1f} files/s"
    )
    print(f"  ratio raw/ours                       {raw_many / our_many:8.2f}   (target >= 0.5)")
    raw_cpu, our_cpu = figures["cpu_ms_per_file_raw"], figures["cpu_ms_per_file_ours"]
    print(f"  CPU per file: raw {raw_cpu:.1f} ms, DocStore {our_cpu:.1f} ms ({our_cpu / raw_cpu:.2f}x raw; goal <= 2)")
    if "cpu_ms_per_file_floor" in figures:
        floor_cpu = figures["cpu_ms_per_file_floor"]
        figures["cpu_floor_over_raw"] = round(floor_cpu / raw_cpu, 2)
        figures["cpu_ours_over_floor"] = round(our_cpu / floor_cpu, 2)
        print(
            f"  floor (raw PUTs + DocStore's commands and records from a plain script, each record read by "
            f"{round(figures['floor_groups_per_record'])} groups): {floor_cpu:.1f} ms CPU per "
            f"file ({floor_cpu / raw_cpu:.2f}x raw; DocStore {our_cpu / floor_cpu:.2f}x the floor), "
            f"{figures['floor_small_files_per_s']:.1f} files/s"
        )
    if "pinned_forms_small_files_per_s" in figures:
        print(
            f"  batches as pinned POST forms: {figures['pinned_forms_small_files_per_s']:.1f} files/s, "
            f"ratio {figures['ratio_small_pinned_forms']:.2f}"
        )
    if "staged_small_files_per_s" in figures:
        print(
            f"  batches without sha256 (staging key, copied): {figures['staged_small_files_per_s']:.1f} files/s, "
            f"ratio {figures['ratio_small_staged']:.2f}"
        )
    print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    raw_rate, our_rate = args.small / raw_many, args.small / our_many
    single_rate = args.single_small / our_single if our_single else None
    if single_rate:
        print(
            f"  single routes ({args.single_small} files, grant + POST + complete each): {single_rate:.1f} files/s, "
            f"ratio {single_rate / raw_rate:.2f}"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "upload",
                    "large_mib": size_mib,
                    "raw_large_s": round(raw_big, 3),
                    "ours_large_s": round(our_big, 3),
                    "ours_large_recorded_s": round(our_big_recorded, 3),
                    "ratio_large": round(raw_big / our_big, 3),
                    "ratio_large_recorded": round(raw_big / our_big_recorded, 3),
                    "small_files": args.small,
                    "small_kib": args.small_kib,
                    "parallel": args.parallel,
                    "batch": args.batch,
                    "raw_small_files_per_s": round(raw_rate, 1),
                    "ours_small_files_per_s": round(our_rate, 1),
                    "ratio_small": round(our_rate / raw_rate, 3),
                    "ours_small_single_files_per_s": round(single_rate, 1) if single_rate else None,
                    "ratio_small_single": round(single_rate / raw_rate, 3) if single_rate else None,
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    **figures,
                }
            )
        )


if __name__ == "__main__":
    main()

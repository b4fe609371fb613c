"""Preview throughput through the indexer beside the same renderer called directly, in one run.

Starts the real servers (free ports, a temporary folder) and the indexer service as its own
process, then measures, in the same run:
  * raw:      the renderer alone (`adapters.rendering.render`, in this process, one file after
              another; run before and after the indexer, averaged) over a mixed set: JPEG
              photos, PNG, GIF, WebP, TIFF, HEIC, PDF, text/Markdown, short videos, DOCX/PPTX
              (when LibreOffice is installed), and a few types without a renderer;
  * indexer:  the same objects in S3, announced by `file.version-recorded` -> read from S3,
              rendered in the render worker processes (time and memory caps), both sizes
              stored in S3, one `document.preview-ready`/`-failed` each in Kafka, or one
              `document.batch-previews` for several (counted there;
              a warm-up file first, not counted);
  * first thumbnail: for one JPEG and one PDF under 10 MB sent alone (the pipeline idle), the
              seconds from sending `file.version-recorded` to its `document.preview-ready` in
              Kafka (goal: within 2 s).

    uv run python bench/previews.py [--files 200] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from PIL import Image, ImageDraw, ImageFilter
from system import indexer_running, progress, servers_running

from docstore_devplatform import documents as builders
from docstore_devplatform.services import bucket_for
from docstore_events import (
    DocumentPreviewFailed,
    DocumentPreviewReady,
    DocumentPreviewsRecorded,
    FileVersionRecorded,
    encode,
)
from docstore_events.envelope import decode, headers_to_dict
from docstore_events.previews import preview_outcomes_in
from docstore_indexer.adapters.rendering import render
from docstore_indexer.domain.previews import PreviewFailed, RenderOptions

REGION = "us-west-2"
rng = random.Random(21)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


# Files ------------------------------------------------------------------------------------


def photo(fmt: str, size: tuple[int, int] = (3000, 2000)) -> bytes:
    """A photo-like picture (shapes, gradient, noise, blur): compresses like a camera's."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(50, 600)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    noise = Image.effect_noise(size, 30).convert("RGB")
    image = Image.blend(image, noise, 0.15).filter(ImageFilter.GaussianBlur(1.5))
    out = io.BytesIO()
    if fmt == "HEIC":
        import pillow_heif

        pillow_heif.from_pillow(image).save(out, quality=70)
    else:
        image.save(out, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return out.getvalue()


def video(seconds: int = 5) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=1280x720:rate=25"]
            + ["-pix_fmt", "yuv420p", str(path)],
            check=True,
        )
        return path.read_bytes()


def text() -> bytes:
    words = "harbour manifest ledger invoice budget minutes contract charter review summary approved".split()
    return "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(200)).encode()


MIX: list[tuple[str, str, int, Callable[[], bytes]]] = [  # (kind, content type, share of 100, maker)
    ("jpeg", "image/jpeg", 30, lambda: photo("JPEG")),
    ("png", "image/png", 10, lambda: photo("PNG", (1600, 1200))),
    ("gif", "image/gif", 3, lambda: photo("GIF", (800, 600))),
    ("webp", "image/webp", 5, lambda: photo("WEBP", (2000, 1500))),
    ("tiff", "image/tiff", 3, lambda: photo("TIFF", (1600, 1200))),
    ("heic", "image/heic", 5, lambda: photo("HEIC", (2000, 1500))),
    ("pdf", "application/pdf", 20, lambda: builders.make_pdf([[f"line {n} of the report" for n in range(40)]] * 3)),
    ("txt", "text/plain", 10, text),
    ("md", "text/markdown", 4, lambda: b"# Minutes\n\n" + text()),
    ("zip", "application/zip", 3, lambda: b"PK\x03\x04" + bytes(1000)),
]
if shutil.which("ffmpeg"):
    MIX.append(("mp4", "video/mp4", 4, video))
if shutil.which("soffice"):
    MIX += [
        ("docx", DOCX, 2, lambda: builders.docx_bytes(["The budget was approved."] * 20, heading="Report")),
        ("pptx", PPTX, 1, lambda: builders.pptx_bytes("Quarterly review", "Revenue, costs, freight")),
    ]


def make_files(count: int) -> list[tuple[str, str, bytes]]:
    total = sum(n for _, _, n, _ in MIX)
    files = []
    for kind, content_type, n, make in MIX:
        for _ in range(max(1, round(n * count / total))):
            files.append((kind, content_type, make()))
    rng.shuffle(files)
    return files[:count]


# Measurements -----------------------------------------------------------------------------


def raw_render(files: list[tuple[str, str, bytes]]) -> float:
    options = RenderOptions()
    started = time.perf_counter()
    for i, (_, content_type, data) in enumerate(files, start=1):
        try:
            render(data, content_type, options)
        except PreviewFailed:
            pass
        if i % 50 == 0:
            progress(f"raw renderer: {i}/{len(files)}")
    return time.perf_counter() - started


class Pipeline:
    """Objects into S3, `file.version-recorded` into Kafka, preview events counted out of Kafka."""

    def __init__(self, endpoints) -> None:
        self.endpoints = endpoints
        self.account_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.bucket = bucket_for(REGION)
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoints.s3_endpoint,
            region_name=REGION,
            aws_access_key_id=endpoints.s3_access_key,
            aws_secret_access_key=endpoints.s3_secret_key,
        )
        self.settled: dict[str, float] = {}
        """document id -> when its preview event was read."""

    async def __aenter__(self) -> Pipeline:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.endpoints.kafka_bootstrap, acks="all", linger_ms=5)
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            DocumentPreviewReady.topic(),
            DocumentPreviewFailed.topic(),
            DocumentPreviewsRecorded.topic(),  # several of the account's outcomes of one batch
            bootstrap_servers=self.endpoints.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await self.consumer.start()
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        await self.producer.stop()
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    envelope = decode(headers_to_dict(message.headers), message.value)
                    if envelope.data.account_id == self.account_id:
                        for outcome in preview_outcomes_in(envelope.data):
                            self.settled.setdefault(outcome.document_id, now)

    async def stage(self, name: str, content_type: str, data: bytes) -> FileVersionRecorded:
        document_id, upload_id = f"doc-{name}", uuid.uuid4().hex
        key = f"{self.account_id}/{document_id}/{upload_id}"
        await asyncio.to_thread(self.s3.put_object, Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return FileVersionRecorded(
            account_id=self.account_id,
            upload_id=upload_id,
            document_id=document_id,
            version=1,
            bucket=self.bucket,
            key=key,
            filename=name,
            content_type=content_type,
            size=len(data),
            sha256="s",
        )

    async def send(self, event: FileVersionRecorded) -> None:
        record = encode(event, source="/bench")
        await self.producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=[(k, v.encode()) for k, v in record.headers.items()]
        )

    async def wait_for(self, document_ids: set[str], timeout: float = 1800.0) -> None:
        deadline = time.perf_counter() + timeout
        reported = 0
        while not document_ids <= self.settled.keys():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(document_ids - self.settled.keys())} previews never settled")
            done = len(document_ids & self.settled.keys())
            if done // 25 != reported // 25:
                progress(f"indexer: {done}/{len(document_ids)} previews settled")
            reported = done
            await asyncio.sleep(0.05)


async def through_indexer(endpoints, files: list[tuple[str, str, bytes]]) -> tuple[float, dict[str, float]]:
    async with Pipeline(endpoints) as pipeline:
        # Warm-up (worker process start, consumer assignment) outside the measurement.
        warm = await pipeline.stage("warm", "image/png", photo("PNG", (400, 300)))
        await pipeline.send(warm)
        await pipeline.wait_for({warm.document_id}, timeout=300)
        # First thumbnail of a lone JPEG and a lone PDF under 10 MB: send -> preview-ready.
        first: dict[str, float] = {}
        for kind, content_type, data in (
            ("jpeg", "image/jpeg", photo("JPEG", (4000, 3000))),
            ("pdf", "application/pdf", builders.make_pdf([[f"line {n}" for n in range(40)]] * 20)),
        ):
            event = await pipeline.stage(f"first-{kind}", content_type, data)
            sent = time.perf_counter()
            await pipeline.send(event)
            await pipeline.wait_for({event.document_id}, timeout=120)
            first[kind] = pipeline.settled[event.document_id] - sent
        events = [await pipeline.stage(f"{i:04d}-{kind}", ct, data) for i, (kind, ct, data) in enumerate(files)]
        progress(f"{len(events)} objects in S3")
        started = time.perf_counter()
        await asyncio.gather(*(pipeline.send(event) for event in events))
        await pipeline.wait_for({event.document_id for event in events})
        return time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="INDEXER_PREVIEW_WORKERS of the indexer under test")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the figures as the last line")
    args = parser.parse_args()
    progress(f"building {args.files} mixed files ...")
    files = make_files(args.files)
    kinds: dict[str, int] = {}
    for kind, _, _ in files:
        kinds[kind] = kinds.get(kind, 0) + 1
    extra_env = {"INDEXER_PREVIEW_WORKERS": str(args.workers), "LOG_LEVEL": "WARNING"}
    with (
        tempfile.TemporaryDirectory(prefix="docstore-bench-") as folder,
        servers_running(Path(folder), REGION) as endpoints,
        indexer_running(endpoints, Path(folder), REGION, extra_env=extra_env),
    ):
        # The raw renderer before and after the indexer, averaged: on a shared machine the load
        # changes during a run, and this way both figures see the same stretch of it.
        raw_before = raw_render(files)
        indexer_seconds, first = asyncio.run(through_indexer(endpoints, files))
        raw_after = raw_render(files)
        raw_seconds = (raw_before + raw_after) / 2
    raw_rate = len(files) / raw_seconds
    indexer_rate = len(files) / indexer_seconds
    ratio = indexer_rate / raw_rate
    print(f"\n{len(files)} mixed files: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print(
        f"{'raw renderer (in process, sequential)':52} {raw_rate:8.2f} previews/s   "
        f"({raw_seconds:.1f} s: {raw_before:.1f} s before the indexer, {raw_after:.1f} s after)"
    )
    print(
        f"{'through the indexer (S3 -> render -> S3 -> event)':52} {indexer_rate:8.2f} previews/s   "
        f"({indexer_seconds:.1f} s; render workers: {args.workers})"
    )
    print(f"{'ratio indexer / raw':52} {ratio:8.2f} x   (goal >= 0.8)")
    for kind, seconds in first.items():
        print(f"{'first thumbnail, lone ' + kind + ' (send -> preview-ready)':52} {seconds:8.2f} s   (goal <= 2 s)")
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "previews",
                    "files": len(files),
                    "kinds": kinds,
                    "render_workers": args.workers,
                    "raw_previews_per_s": round(raw_rate, 2),
                    "raw_before_s": round(raw_before, 1),
                    "raw_after_s": round(raw_after, 1),
                    "indexer_previews_per_s": round(indexer_rate, 2),
                    "ratio_indexer_raw": round(ratio, 2),
                    **{f"first_thumbnail_{kind}_s": round(seconds, 2) for kind, seconds in first.items()},
                }
            )
        )


if __name__ == "__main__":
    main()

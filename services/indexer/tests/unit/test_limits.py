"""Extraction bounds: size, time, missing objects. Fakes stand in for S3; nothing else is touched."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.extraction import ExtractionFailed, extract_text
from docstore_indexer.domain.indexing import Indexer, Limits

from .pdfs import make_pdf


class FakeObjects:
    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self.reads = 0

    async def read(self, bucket: str, key: str, *, limit: int) -> bytes:
        self.reads += 1
        if self.data is None:
            raise ObjectMissing(f"s3://{bucket}/{key} not found")
        return self.data[:limit]


class InlineExtractor:
    """The extractor in this process (the real one runs in a worker process)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def extract(self, data: bytes, content_type: str, timeout: float) -> str:
        if self.delay > timeout:
            await asyncio.sleep(timeout)
            raise ExtractionFailed(f"extraction timed out after {timeout:g} s")
        return extract_text(data, content_type)


def indexer(data: bytes | None, *, max_bytes: int = 1000, timeout: float = 5.0, delay: float = 0.0) -> Indexer:
    return Indexer(
        plans=None, catalog=None, backfills=None, index=None, outbox=None,  # type: ignore[arg-type]
        objects=FakeObjects(data),  # type: ignore[arg-type]
        extractor=InlineExtractor(delay),
        limits=Limits(max_extract_bytes=max_bytes, extract_timeout_seconds=timeout, max_text_chars=20),
    )


def entry(content_type: str, size: int) -> CatalogEntry:
    return CatalogEntry("acc", "d1", upload_id="u1", version=1, uploaded_at=datetime.now(UTC), bucket="b", key="k",
                        content_type=content_type, size=size, name="f")


async def test_text_is_extracted_and_cut_to_the_limit() -> None:
    extracted = await indexer(b"alpha beta gamma delta epsilon").extract(entry("text/plain", 30))
    assert extracted.failure == "" and extracted.text == "alpha beta gamma del"


async def test_pdf_is_extracted() -> None:
    pdf = make_pdf(["hello pdf"])
    extracted = await indexer(pdf, max_bytes=len(pdf)).extract(entry("application/pdf", len(pdf)))
    assert extracted.text == "hello pdf"


async def test_unsupported_type_is_not_even_read() -> None:
    subject = indexer(b"\x00\x01")
    extracted = await subject.extract(entry("video/mp4", 2))
    assert extracted.text == "" and extracted.failure == "" and subject.objects.reads == 0  # type: ignore[attr-defined]


async def test_too_large_by_declared_size() -> None:
    subject = indexer(b"x" * 10, max_bytes=5)
    extracted = await subject.extract(entry("text/plain", 10))
    assert extracted.failure.startswith("too large") and subject.objects.reads == 0  # type: ignore[attr-defined]


async def test_too_large_by_real_size() -> None:
    extracted = await indexer(b"x" * 10, max_bytes=5).extract(entry("text/plain", 3))
    assert extracted.failure.startswith("too large")


async def test_missing_object_fails_with_reason() -> None:
    extracted = await indexer(None).extract(entry("text/plain", 3))
    assert extracted.failure.startswith("object missing")


async def test_corrupt_pdf_fails_with_reason() -> None:
    extracted = await indexer(b"%PDF-1.4 garbage").extract(entry("application/pdf", 16))
    assert "PDF" in extracted.failure and extracted.text == ""


async def test_extractor_timeout_becomes_a_failure() -> None:
    extracted = await indexer(b"abc", timeout=0.05, delay=1).extract(entry("text/plain", 3))
    assert extracted.failure == "extraction timed out after 0.05 s"

"""Extraction bounds: size, time, missing objects. Fakes stand in for S3; nothing else is touched."""

from __future__ import annotations

from datetime import UTC, datetime

from indexer_fakes import Objects, world

from docstore_devplatform.documents import make_pdf
from docstore_indexer.domain.catalog import CatalogEntry
from docstore_indexer.domain.extraction import Limits
from docstore_indexer.service_layer.indexing import Indexing


def indexer(data: bytes | None, *, max_bytes: int = 1000, timeout: float = 5.0, delay: float = 0.0) -> Indexing:
    objects = Objects({} if data is None else {("b", "k"): data})
    limits = Limits(max_extract_bytes=max_bytes, extract_timeout_seconds=timeout, max_text_chars=20)
    return world(objects=objects, limits=limits, delay=delay).indexing


def reads(subject: Indexing) -> int:
    objects = subject.objects
    assert isinstance(objects, Objects)
    return objects.reads


def entry(content_type: str, size: int) -> CatalogEntry:
    return CatalogEntry(
        "acc",
        "d1",
        upload_id="u1",
        version=1,
        uploaded_at=datetime.now(UTC),
        bucket="b",
        key="k",
        content_type=content_type,
        size=size,
        name="f",
    )


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
    assert extracted.text == "" and extracted.failure == "" and reads(subject) == 0


async def test_too_large_by_declared_size() -> None:
    subject = indexer(b"x" * 10, max_bytes=5)
    extracted = await subject.extract(entry("text/plain", 10))
    assert extracted.failure.startswith("too large") and reads(subject) == 0


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

"""Extraction bounds: size, time, missing objects. Fakes stand in for S3; nothing else is touched."""

from __future__ import annotations

import time

import pytest

from docstore_events import UploadCompleted
from docstore_indexer.adapters.object_store import ObjectMissing
from docstore_indexer.domain import indexing
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


def indexer(data: bytes | None, *, max_bytes: int = 1000, timeout: float = 5.0) -> Indexer:
    return Indexer(
        plans=None, indexed=None, index=None, outbox=None,  # type: ignore[arg-type]
        objects=FakeObjects(data),  # type: ignore[arg-type]
        limits=Limits(max_extract_bytes=max_bytes, extract_timeout_seconds=timeout, max_text_chars=20),
    )


def upload(content_type: str, size: int) -> UploadCompleted:
    return UploadCompleted(
        account_id="acc", upload_id="u1", document_id="d1", bucket="b", key="k", filename="f",
        content_type=content_type, size=size, etag="e", sha256="s",
    )


async def test_text_is_extracted_and_cut_to_the_limit() -> None:
    extracted = await indexer(b"alpha beta gamma delta epsilon").extract(upload("text/plain", 30))
    assert extracted.failure == "" and extracted.text == "alpha beta gamma del"


async def test_pdf_is_extracted() -> None:
    pdf = make_pdf(["hello pdf"])
    extracted = await indexer(pdf, max_bytes=len(pdf)).extract(upload("application/pdf", len(pdf)))
    assert extracted.text == "hello pdf"


async def test_unsupported_type_is_not_even_read() -> None:
    subject = indexer(b"\x00\x01")
    extracted = await subject.extract(upload("image/png", 2))
    assert extracted.text == "" and extracted.failure == "" and subject.objects.reads == 0  # type: ignore[attr-defined]


async def test_too_large_by_declared_size() -> None:
    subject = indexer(b"x" * 10, max_bytes=5)
    extracted = await subject.extract(upload("text/plain", 10))
    assert extracted.failure.startswith("too large") and subject.objects.reads == 0  # type: ignore[attr-defined]


async def test_too_large_by_real_size() -> None:
    extracted = await indexer(b"x" * 10, max_bytes=5).extract(upload("text/plain", 3))
    assert extracted.failure.startswith("too large")


async def test_missing_object_fails_with_reason() -> None:
    extracted = await indexer(None).extract(upload("text/plain", 3))
    assert extracted.failure.startswith("object missing")


async def test_corrupt_pdf_fails_with_reason() -> None:
    extracted = await indexer(b"%PDF-1.4 garbage").extract(upload("application/pdf", 16))
    assert "PDF" in extracted.failure and extracted.text == ""


async def test_slow_extraction_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(data: bytes, content_type: str) -> str:
        time.sleep(0.5)
        return "late"

    monkeypatch.setattr(indexing, "extract_text", slow)
    started = time.monotonic()
    extracted = await indexer(b"abc", timeout=0.05).extract(upload("text/plain", 3))
    assert extracted.failure == "extraction timed out after 0.05 s"
    assert time.monotonic() - started < 0.4

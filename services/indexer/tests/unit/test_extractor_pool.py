"""The worker processes: a hung, crashing or greedy extractor is stopped and the pool goes on."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from docstore_devplatform import documents
from docstore_indexer.adapters.extractor import WORKER_MODULE, ExtractorPool
from docstore_indexer.adapters.process_pool import KillablePool, Worker
from docstore_indexer.domain.extraction import ExtractionFailed, Options


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[ExtractorPool]:
    """One pool for the tests that hang, crash or starve its worker, as the service keeps one:
    each of them checks that the next document is still served. A pool per test cost a cold
    worker start (imports) each. The fault switch stays set while the module runs, so the
    workers that replace a killed one read it too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCSTORE_EXTRACT_FAULTS", "1")
        subject = ExtractorPool(workers=1, options=Options(), memory_mb=1024)
        try:
            yield subject
        finally:
            await subject.close()


async def test_text_and_ocr_in_a_worker(pool: ExtractorPool) -> None:
    assert await pool.extract(b"hello worker", "text/plain", 10) == "hello worker"
    assert "cranberry" in (await pool.extract(documents.text_image(["cranberry"]), "image/png", 10)).lower()


async def test_a_hung_extractor_is_killed_with_its_children(pool: ExtractorPool) -> None:
    await pool.extract(b"warm", "text/plain", 10)
    started = time.monotonic()
    with pytest.raises(ExtractionFailed, match="timed out after 0.5 s"):
        await pool.extract(b"x", "application/x-docstore-hang", 0.5)
    assert time.monotonic() - started < 3
    found = await asyncio.to_thread(subprocess.run, ["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True)
    orphans = found.stdout.split()
    assert orphans == []
    assert await pool.extract(b"still serving", "text/plain", 10) == "still serving"


async def test_a_crashing_extractor_is_reported_and_replaced(pool: ExtractorPool) -> None:
    with pytest.raises(ExtractionFailed, match="extractor crashed .*SIGSEGV"):
        await pool.extract(b"x", "application/x-docstore-crash", 10)
    assert await pool.extract(b"next one", "text/plain", 10) == "next one"


async def test_memory_is_bounded(pool: ExtractorPool) -> None:
    # Filling 1 GiB before the limit bites takes seconds on a loaded machine: the time cap must
    # not be what ends it.
    with pytest.raises(ExtractionFailed, match="out of memory"):
        await pool.extract(b"x", "application/x-docstore-eat-memory", 120)
    assert await pool.extract(b"fine", "text/plain", 10) == "fine"


async def test_corrupt_document_is_a_failure_not_a_crash(pool: ExtractorPool) -> None:
    with pytest.raises(ExtractionFailed, match="PDF"):
        await pool.extract(b"%PDF-1.7 broken", "application/pdf", 10)


async def test_a_warm_worker_is_used_before_an_empty_slot_starts_a_cold_one() -> None:
    """Two slots, one call at a time: every call lands on the one process already started (last
    in, first out), so a lone document never waits for a cold worker's imports."""
    subject = ExtractorPool(workers=2, options=Options(), memory_mb=1024)
    try:
        for n in range(3):
            assert await subject.extract(f"call {n}".encode(), "text/plain", 30) == f"call {n}"
        assert len(subject.pool._all) == 1
    finally:
        await subject.close()


async def test_warm_up_starts_one_worker_before_any_call() -> None:
    pool = KillablePool(WORKER_MODULE, workers=2, memory_mb=1024)
    try:
        pool.warm_up()
        assert pool._warming is not None
        await pool._warming
        assert len(pool._all) == 1 and all(worker.alive for worker in pool._all)
        warm = next(iter(pool._all))

        async def pid(worker: Worker) -> int:
            return worker.process.pid

        assert await pool.call(pid, 10) == warm.process.pid  # the first call gets the warm one
    finally:
        await pool.close()

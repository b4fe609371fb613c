"""Extraction in worker processes that can really be stopped (`process_pool.KillablePool`).

`ExtractorPool` keeps a few `extract_worker` processes warm (each one imports the parsers
once) and hands each document to an idle one. A document that takes longer than its time
limit gets its worker's whole process group killed (the worker and any tesseract or
pdftoppm it started); a worker that dies (segfault, out of memory) is reported as a crash.
Either way the document fails with a reason, a fresh worker takes the dead one's place,
and the service goes on. Workers run with an address-space limit (`memory_mb`).
"""

from __future__ import annotations

from dataclasses import asdict

from docstore_indexer.adapters.process_pool import KillablePool, Worker, WorkerCrashed, WorkerTimedOut
from docstore_indexer.domain.extraction import ExtractionFailed, Options

WORKER_MODULE = "docstore_indexer.adapters.extract_worker"


class ExtractorPool:
    """Up to `workers` extractions at once, each in a process killed after its time limit."""

    def __init__(self, *, workers: int, options: Options, memory_mb: int = 2048) -> None:
        self.options = options
        self.pool = KillablePool(WORKER_MODULE, workers=workers, memory_mb=memory_mb)
        self.size = self.pool.size

    def start(self) -> None:
        self.pool.start()

    async def close(self) -> None:
        await self.pool.close()

    async def extract(self, data: bytes, content_type: str, timeout: float) -> str:
        """The text of `data`, or `ExtractionFailed` with the reason (timeout, crash, corrupt, …)."""
        header = {"content_type": content_type, "options": asdict(self.options), "timeout": timeout}

        async def exchange(worker: Worker) -> dict[str, object]:
            return await worker.request(header, data)

        try:
            answer = await self.pool.call(exchange, timeout)
        except WorkerTimedOut:
            raise ExtractionFailed(f"extraction timed out after {timeout:g} s") from None
        except WorkerCrashed as crash:
            raise ExtractionFailed(f"extractor crashed ({crash.exit})") from None
        if "failure" in answer:
            raise ExtractionFailed(str(answer["failure"]))
        return str(answer.get("text", ""))

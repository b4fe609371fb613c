"""Preview rendering in worker processes that can really be stopped (beside the extraction pool).

`RenderPool` keeps a few `render_worker` processes warm and hands each version to an idle one,
exactly as `ExtractorPool` does for text: past its time cap the worker's whole process group
is killed (the worker and the `ffmpeg`/`soffice` it started); a worker that dies (segfault,
out of memory under its address-space cap) is reported as a crash. Either way that one
preview fails with a reason, a fresh worker takes the dead one's place, and the service goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict
from typing import Any

import structlog

from docstore_indexer.adapters.extract_worker import LENGTH
from docstore_indexer.domain.previews import PreviewFailed, Rendered, RenderOptions

log = structlog.get_logger(__name__)

WORKER_MODULE = "docstore_indexer.adapters.render_worker"
STARTUP_SECONDS = 60.0


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout

    @classmethod
    async def start(cls, memory_mb: int) -> _Worker:
        env = {**os.environ, "DOCSTORE_EXTRACT_MEMORY_MB": str(memory_mb), "OMP_THREAD_LIMIT": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env=env,
            start_new_session=True,  # its own process group: killed together with its children
            limit=2**20,
        )
        worker = cls(process)
        try:
            ready = await asyncio.wait_for(worker._read(), STARTUP_SECONDS)
        except BaseException:
            await worker.kill()
            raise
        if not json.loads(ready).get("ready"):
            await worker.kill()
            raise RuntimeError("render worker did not start")
        return worker

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def _read(self) -> bytes:
        head = await self.stdout.readexactly(LENGTH.size)
        (size,) = LENGTH.unpack(head)
        return await self.stdout.readexactly(size)

    async def run(self, data: bytes, content_type: str, options: RenderOptions, timeout: float) -> list[Rendered]:
        header = json.dumps({"content_type": content_type, "options": asdict(options), "timeout": timeout}).encode()
        self.stdin.write(LENGTH.pack(len(header)) + header + LENGTH.pack(len(data)))
        self.stdin.write(data)
        await self.stdin.drain()
        answer: dict[str, Any] = json.loads(await self._read())
        if "failure" in answer:
            raise PreviewFailed(str(answer["failure"]))
        rendered = []
        for image in answer["images"]:
            payload = await self._read()
            rendered.append(
                Rendered(
                    size=str(image["size"]),
                    width=int(image["width"]),
                    height=int(image["height"]),
                    content_type=str(image["content_type"]),
                    extension=str(image["extension"]),
                    data=payload,
                )
            )
        return rendered

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()

    def describe_exit(self) -> str:
        code = self.process.returncode
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


class RenderPool:
    """Up to `workers` renders at once, each in a process killed after its time cap."""

    def __init__(self, *, workers: int, options: RenderOptions, memory_mb: int = 2048) -> None:
        self.size = max(1, workers)
        self.options = options
        self.memory_mb = memory_mb
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._started = False

    def start(self) -> None:
        """Make `workers` slots; worker processes start on first use (and again after a kill)."""
        if not self._started:
            for _ in range(self.size):
                self._idle.put_nowait(None)
            self._started = True

    async def close(self) -> None:
        for worker in list(self._all):
            await worker.kill()
        self._all.clear()

    async def render(self, data: bytes, content_type: str, timeout: float) -> list[Rendered]:
        """The small and large previews of `data`, or `PreviewFailed` with the reason."""
        self.start()
        slot = await self._idle.get()
        worker: _Worker | None = slot
        try:
            if worker is None or not worker.alive:
                worker = await _Worker.start(self.memory_mb)
                self._all.add(worker)
            try:
                return await asyncio.wait_for(worker.run(data, content_type, self.options, timeout), timeout + 0.5)
            except TimeoutError:
                await self._discard(worker)
                worker = None
                raise PreviewFailed(f"render timed out after {timeout:g} s") from None
            except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
                await worker.kill()
                reason = f"renderer crashed ({worker.describe_exit()})"
                self._all.discard(worker)
                worker = None
                raise PreviewFailed(reason) from None
            except asyncio.CancelledError:
                await self._discard(worker)
                worker = None
                raise
        finally:
            self._idle.put_nowait(worker)

    async def _discard(self, worker: _Worker) -> None:
        await worker.kill()
        self._all.discard(worker)
        log.warning("render_worker_killed", pid=worker.process.pid)

"""Risky parsing in worker processes that can really be stopped: both halves of it.

The parent half, `KillablePool`, keeps up to `workers` processes of one worker module warm
(`python -m <module>`, each importing its parsers once) and lends an idle one to each call.
A call that takes longer than its time limit gets its worker's whole process group killed (the
worker and any tesseract, pdftoppm, ffmpeg or soffice it started): `WorkerTimedOut`. A worker
that dies (segfault, out of memory under its address-space cap) is `WorkerCrashed`, with how it
exited. Either way a fresh worker takes the dead one's place on its next use, and the caller
turns the exception into its own failure with a reason. The extraction pool
(`adapters.extractor`) and the preview pool (`adapters.renderer`) are this pool with their
own worker module and request.

The worker half, `serve`, is the loop each worker module runs: messages of an 8-byte
big-endian length and a payload on stdin/stdout, one request at a time: a JSON header, then
a message with the raw bytes; the answer is a JSON object, then any further payloads the
handler returns (the render worker's images). Answers are JSON and plain bytes, never
pickle: a worker that parsed hostile bytes is not trusted with code execution in its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO, TypeVar

import structlog

LENGTH = struct.Struct(">Q")
STARTUP_SECONDS = 60.0
MEMORY_ENV = "DOCSTORE_EXTRACT_MEMORY_MB"
"""The address-space cap of a worker in MiB (inherited by what it starts)."""
FAULTS_ENV = "DOCSTORE_EXTRACT_FAULTS"
"""`1`: the test hooks of `fault` answer the content types `application/x-docstore-{hang,crash,eat-memory}`."""

T = TypeVar("T")


# The parent's half -----------------------------------------------------------------------------


class WorkerLost(Exception):
    """The call's worker was killed or died: the call has no answer."""


class WorkerTimedOut(WorkerLost):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g} s")
        self.timeout = timeout


class WorkerCrashed(WorkerLost):
    def __init__(self, exit: str) -> None:
        super().__init__(exit)
        self.exit = exit
        """How the process ended: `killed by SIGSEGV`, `exit code 1`, ..."""


class Worker:
    """One worker process in its own process group, spoken to through its stdin and stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout

    @classmethod
    async def start(
        cls, module: str, *, memory_mb: int, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
    ) -> Worker:
        """`python -m module`, behind `prefix` (a command that execs it, e.g. `unshare --net --`)."""
        environment = {**os.environ, MEMORY_ENV: str(memory_mb), "OMP_THREAD_LIMIT": "1", **(env or {})}
        process = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            module,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env=environment,
            start_new_session=True,  # its own process group: killed together with its children
            limit=2**20,
        )
        worker = cls(process)
        try:
            ready = await asyncio.wait_for(worker.read(), STARTUP_SECONDS)
        except BaseException:
            await worker.kill()
            raise
        if not json.loads(ready).get("ready"):
            await worker.kill()
            raise RuntimeError(f"worker {module} did not start")
        return worker

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def read(self) -> bytes:
        """The next message's payload."""
        head = await self.stdout.readexactly(LENGTH.size)
        (size,) = LENGTH.unpack(head)
        return await self.stdout.readexactly(size)

    async def request(self, header: dict[str, Any], data: bytes) -> dict[str, Any]:
        """Send one request (`header` as JSON, then `data`) and read its JSON answer."""
        encoded = json.dumps(header).encode()
        self.stdin.write(LENGTH.pack(len(encoded)) + encoded + LENGTH.pack(len(data)))
        self.stdin.write(data)
        await self.stdin.drain()
        answer: dict[str, Any] = json.loads(await self.read())
        return answer

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


class KillablePool:
    """Up to `workers` calls at once, each in a process of `module` killed after its time limit.

    Worker processes start on first use (and again after a kill), so an idle replica holds
    none until its first document."""

    def __init__(
        self,
        module: str,
        *,
        workers: int,
        memory_mb: int = 2048,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        """`prefix`: a command each worker is started through, which must exec it in place (the
        process group killed is the worker's), e.g. `("unshare", "--net", "--")`."""
        self.module = module
        self.prefix = prefix
        self.size = max(1, workers)
        self.memory_mb = memory_mb
        self.env = dict(env or {})
        # Last in, first out: a call takes the worker that finished last, so a warm process is
        # used before an empty slot makes a cold one start (a lone document never waits for one).
        self._idle: asyncio.LifoQueue[Worker | None] = asyncio.LifoQueue()
        self._all: set[Worker] = set()
        self._started = False
        self._warming: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Make `workers` slots (empty until first use)."""
        if not self._started:
            for _ in range(self.size):
                self._idle.put_nowait(None)
            self._started = True

    def warm_up(self) -> None:
        """Start one worker process in the background, so the first call finds it ready (its
        imports take a second or more on a loaded machine); the others start on first use."""
        self.start()
        if self._warming is None:
            self._warming = asyncio.create_task(self._warm(), name=f"warm {self.module}")

    async def _warm(self) -> None:
        worker: Worker | None = await self._idle.get()  # (cancelled here: no slot was taken)
        try:
            if worker is None:
                worker = await Worker.start(self.module, memory_mb=self.memory_mb, env=self.env, prefix=self.prefix)
                self._all.add(worker)
        except Exception as error:  # the first call starts one itself (and reports why it cannot)
            structlog.get_logger(__name__).warning("worker_warm_up_failed", module=self.module, error=repr(error))
        finally:
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming
            self._warming = None
        for worker in list(self._all):
            await worker.kill()
        self._all.clear()

    async def call(self, exchange: Callable[[Worker], Awaitable[T]], timeout: float) -> T:
        """`exchange(worker)` on an idle worker, within `timeout` seconds (plus a moment for the
        pipe). Raises `WorkerTimedOut` (the process group was killed) or `WorkerCrashed`."""
        self.start()
        worker: Worker | None = await self._idle.get()
        try:
            if worker is None or not worker.alive:
                worker = await Worker.start(self.module, memory_mb=self.memory_mb, env=self.env, prefix=self.prefix)
                self._all.add(worker)
            try:
                return await asyncio.wait_for(exchange(worker), timeout + 0.5)
            except TimeoutError:
                await self._discard(worker)
                worker = None
                raise WorkerTimedOut(timeout) from None
            except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
                await worker.kill()
                self._all.discard(worker)
                exit = worker.describe_exit()
                worker = None
                raise WorkerCrashed(exit) from None
            except asyncio.CancelledError:
                await self._discard(worker)
                worker = None
                raise
        finally:
            self._idle.put_nowait(worker)

    async def _discard(self, worker: Worker) -> None:
        await worker.kill()
        self._all.discard(worker)
        structlog.get_logger(__name__).warning("worker_killed", module=self.module, pid=worker.process.pid)


# The worker's half -----------------------------------------------------------------------------


def read_message(stream: BinaryIO) -> bytes | None:
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def write_message(stream: BinaryIO, payload: bytes) -> None:
    stream.write(LENGTH.pack(len(payload)) + payload)
    stream.flush()


def limit_memory() -> None:
    """The address-space cap the parent asked for (`MEMORY_ENV`), for this process and its children."""
    megabytes = int(os.environ.get(MEMORY_ENV, "0") or 0)
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def fault(content_type: str) -> None:
    """Test hooks (only with `FAULTS_ENV`=1): a hanging, crashing or greedy worker."""
    if content_type == "application/x-docstore-hang":
        subprocess.Popen(["sleep", "600"])  # a child that must die with the worker
        time.sleep(600)
    elif content_type == "application/x-docstore-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif content_type == "application/x-docstore-eat-memory":
        hoard = [bytearray(100_000_000) for _ in range(1000)]
        del hoard


Handler = Callable[[dict[str, Any], bytes], tuple[dict[str, Any], list[bytes]]]
"""`(request header, raw bytes) -> (JSON answer, further payloads)`."""


def serve(
    name: str,
    handle: Handler,
    *,
    expected: type[Exception],
    what: str,
    prepare: Callable[[], None] = lambda: None,
    error_detail: bool = False,
) -> None:
    """The worker's loop, for as long as its parent keeps it. `prepare` imports the parsers
    (before the memory cap and the first request); `handle` answers one request; an `expected`
    exception is the document's failure (its message is the reason), anything else is reported
    as `<what> error: <type>` (`: <message>` too with `error_detail`) and the worker keeps serving."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the answer stream
    from docstore_kit.observability import configure_logging

    # Its stderr is the indexer's: the same one-JSON-object lines (parsers log warnings too).
    environ = os.environ.get
    configure_logging("indexer", region=environ("REGION", ""), log_format=environ("LOG_FORMAT", "auto"))
    log = logging.getLogger(f"docstore_indexer.{name}")
    prepare()
    limit_memory()
    faults = environ(FAULTS_ENV) == "1"
    write_message(stdout, b'{"ready": true}')
    while True:
        header = read_message(stdin)
        data = read_message(stdin) if header is not None else None
        if header is None or data is None:
            return
        request: dict[str, Any] = json.loads(header)
        payloads: list[bytes] = []
        try:
            if faults:
                fault(str(request.get("content_type", "")))
            answer, payloads = handle(request, data)
        except expected as error:
            answer = {"failure": str(error)}
        except MemoryError:
            answer = {"failure": f"{what} ran out of memory"}
        except RecursionError:
            answer = {"failure": "document nested too deeply"}
        except Exception as error:  # a parser bug on odd input: report it, keep serving
            log.exception(f"{name}_error")
            reason = f"{what} error: {type(error).__name__}" + (f": {error}" if error_detail else "")
            answer = {"failure": reason[:300]}
        write_message(stdout, json.dumps(answer).encode())
        for payload in payloads:
            write_message(stdout, payload)

"""A multipart PUT's parts sent while the body is still arriving (issue 38): each part gathered from
the body's blocks, then sent as its own PUT (upload's signed part URL) by a pool of threads, while
the request's thread reads the next part. At most `in_flight` parts of one request are sending at
once, and at most the pool's `slots` across all requests, so a request holds about
(`in_flight` + 1) x the part size, and each part's blocks are let go as soon as its PUT ends.

Each part's MD5 is computed by the thread that sends it (`md5s`): upload compares them with S3's
part checksums to record the body's sha256 without reading the object back.

A failed part stops the body (the next `write` raises it); `cancel` waits for the parts still
sending before it returns, so the caller's abort of the multipart upload comes after every part's
PUT has ended and leaves nothing stored."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from docstore_webdav.adapters.backend import BackendError

Send = Callable[[str, Iterable[bytes], int], None]
"""Sends one part: its signed URL, its blocks, its length."""

WAIT = 0.5
"""How often a request waiting for a free slot checks whether a part of it has failed."""


class PartPool:
    """The threads that send parts, shared by every PUT of the process: `slots` parts at most
    sending at once, whoever they belong to (bounds the process's part buffers)."""

    def __init__(self, slots: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, slots))
        self.executor = ThreadPoolExecutor(max_workers=max(1, slots), thread_name_prefix="webdav-part")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class ParallelParts:
    """The parts of one multipart upload, cut from the body as it is written (`write`), each sent
    once whole; `finish` sends the last one and waits for all, `cancel` drops what is left."""

    def __init__(self, pool: PartPool, send: Send, urls: list[str], part_size: int, size: int, in_flight: int) -> None:
        if part_size <= 0 or len(urls) * part_size < size:
            raise ValueError("the part URLs do not cover the body")
        self.pool = pool
        self.send = send
        self.urls = urls
        self.part_size = part_size
        self.size = size
        self.slots = threading.BoundedSemaphore(max(1, in_flight))
        self.failed: BackendError | None = None
        self.cancelled = threading.Event()
        self._blocks: list[bytes] = []
        self._held = 0
        self._number = 0
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self.md5s: dict[int, str] = {}
        """Each part's MD5 (hex) by part number from 1, set by the thread that sent it."""

    def _length(self, number: int) -> int:
        return min(self.part_size, self.size - number * self.part_size)

    def write(self, data: bytes) -> None:
        """Adds the body's next bytes; a whole part is handed to the pool (waiting for a free slot
        while `in_flight` parts are sending). Raises the first part's failure."""
        self._raise_failed()
        view = memoryview(data)
        while view:
            want = self._length(self._number) - self._held
            if want <= 0:
                raise BackendError(400, "the body is longer than declared")
            taken = view[:want]
            self._blocks.append(bytes(taken))
            self._held += len(taken)
            view = view[len(taken) :]
            if self._held == self._length(self._number):
                self._submit()

    def _raise_failed(self) -> None:
        if self.failed is not None:
            raise self.failed

    def _acquire(self, semaphore: threading.BoundedSemaphore) -> None:
        while not semaphore.acquire(timeout=WAIT):
            self._raise_failed()

    def _submit(self) -> None:
        blocks, length, number = self._blocks, self._held, self._number
        self._blocks, self._held = [], 0
        self._number += 1
        self._acquire(self.slots)
        try:
            self._acquire(self.pool.slots)
        except BaseException:
            self.slots.release()
            raise
        if self.failed is not None:  # a part failed while this one waited for its slot
            self.pool.slots.release()
            self.slots.release()
            raise self.failed
        try:
            self._futures.append(self.pool.executor.submit(self._send, number, blocks, length))
        except BaseException:
            self.pool.slots.release()
            self.slots.release()
            raise

    def _send(self, number: int, blocks: list[bytes], length: int) -> None:
        try:
            if not self.cancelled.is_set() and self.failed is None:
                md5 = hashlib.md5()  # noqa: S324  (S3's part checksum, its ETag: not security)
                for block in blocks:
                    md5.update(block)
                self.send(self.urls[number], blocks, length)
                self.md5s[number + 1] = md5.hexdigest()
        except BackendError as error:
            self._fail(error)
        except Exception as error:  # noqa: BLE001  (any failure of a part fails the upload, never a 500)
            self._fail(BackendError(503, f"a part could not be sent: {type(error).__name__}"))
        finally:
            blocks.clear()  # this part's bytes go now, not when the upload ends
            self.pool.slots.release()
            self.slots.release()

    def _fail(self, error: BackendError) -> None:
        with self._lock:
            if self.failed is None:
                self.failed = error

    def finish(self) -> None:
        """Sends the last part (shorter) and waits until every part has been sent; a failure is
        left in `failed`."""
        try:
            if self._held:
                self._submit()
        except BackendError:
            pass  # already in `failed`
        self._wait()

    def cancel(self) -> None:
        """Drops the part being gathered, sends nothing more, and waits for the parts already
        sending to end (so an abort after it finds no part still arriving)."""
        self.cancelled.set()
        self._blocks, self._held = [], 0
        self._wait()

    def _wait(self) -> None:
        futures, self._futures = self._futures, []
        wait(futures)

    @property
    def sent(self) -> int:
        """Parts handed to the pool so far."""
        return self._number

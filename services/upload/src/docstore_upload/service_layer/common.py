"""What upload's use cases share: one unit of work, the ports, and the few answers and rules
more than one of them hands out.

Every state change runs in the unit of work (`uow.run`), its event with it; reads that need
no consistency with a write go through `reads` (the repositories outside any transaction).
S3, quota and metadata are ports (`service_layer.ports`), called outside transactions, before
or after them: a transaction may be run again, a call to S3 must not.

The use cases, one module each, all built on one `UploadContext` (`bootstrap.upload_use_cases`):
`grants.Grants` (one grant, resuming parts), `dedupe.Dedupe` and `deltas.Deltas` (bytes the
account already stores: copied, not sent), `batch_grants.BatchGrants` and
`batch_completion.BatchCompletion` (many grants, many completions at once),
`completion.Completion` (the one exactly-once completion), `endings.Endings` (abort, reject,
an account's deletion) and `checks.Checks` (the watcher, sweeps and S3 notifications).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from docstore_kit.errors import DomainError
from docstore_messaging.unit_of_work import UnitOfWork
from docstore_upload.adapters.repositories import Repositories
from docstore_upload.domain.errors import CompletionFailed
from docstore_upload.domain.grants import Grant, Limits
from docstore_upload.domain.signatures import RedirectSigner
from docstore_upload.service_layer.ports import Documents, ObjectStore, Quota

log = structlog.get_logger(__name__)

T = TypeVar("T")

BATCH_S3_CONCURRENCY = 16
"""A batch's items (or a delta's parts) copied and read back from S3 at once."""

AWAITING_KEYS = 100_000
"""At most this many batch grants' keys are remembered as awaiting their client (`AwaitingClients`)."""

CHUNK_MAP_CHECK_EVERY = timedelta(hours=1)
"""How often the object of a kept chunk map is looked for: once its version is purged (the object
deleted), the map goes too (`Checks.sweep_chunk_maps`)."""


@dataclass(frozen=True)
class IssuedGrant:
    grant: Grant
    max_size: int
    form: dict[str, Any] | None = None
    put: dict[str, Any] | None = None
    """A pinned batch item asked for as a PUT: `url` and the `headers` to send with the bytes."""
    part_size: int | None = None
    part_urls: dict[int, str] | None = None
    deduplicated: bool = False
    """The account already stored these bytes: the version's object was copied server-side and
    the upload is completed; nothing is to be sent."""
    layout: dict[int, tuple[int, int]] | None = None
    """Multipart: each part's (offset, length) in the file (a delta upload's parts differ in size)."""
    part_count: int | None = None
    copied_bytes: int = 0
    """A delta upload: bytes of the file copied server-side from the previous version."""


async def item_outcome(work: Coroutine[Any, Any, T]) -> T | DomainError:
    """One batch item's outcome: its result, or its refusal; trouble that is not the client's
    becomes `CompletionFailed` for that item alone (logged), not a failed batch."""
    try:
        return await work
    except DomainError as error:
        return error
    except Exception:
        log.exception("upload_batch_item_failed")
        return CompletionFailed()


class Redirects:
    """Where S3 sends a browser after its form upload; the signature stands in for a login."""

    def __init__(self, base: str, secret: str) -> None:
        self.base = base.rstrip("/")
        self.signer = RedirectSigner(secret)

    def url(self, upload_id: str) -> str:
        return f"{self.base}/v1/uploads/{upload_id}/done/{self.signer.sign(upload_id)}"

    def verify(self, upload_id: str, signature: str) -> bool:
        return self.signer.verify(upload_id, signature)


class AwaitingClients:
    """The keys batch grants' clients write, each until its client's grace ends
    (`BATCH_CLIENT_GRACE`): S3's notification of such a write is not even looked up meanwhile
    (`Checks.object_written`). In this process only; bounded by `AWAITING_KEYS`."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[str, datetime]] = {}
        """Key a batch grant's client writes -> (upload id, until when its client completes it)."""
        self._keys: dict[str, str] = {}
        """Upload id -> its key in `_by_key`."""

    def remember(self, written: list[tuple[str, str]], until: datetime) -> None:
        """(upload id, key) of each item of a batch grant."""
        if len(self._by_key) + len(written) > AWAITING_KEYS:
            now = datetime.now(UTC)
            for key, (upload_id, ends) in list(self._by_key.items()):
                if ends <= now:
                    self._by_key.pop(key, None)
                    self._keys.pop(upload_id, None)
            if len(self._by_key) + len(written) > AWAITING_KEYS:
                self._by_key.clear()
                self._keys.clear()
        for upload_id, key in written:
            self._by_key[key] = (upload_id, until)
            self._keys[upload_id] = key

    def forget(self, upload_id: str) -> None:
        """The upload ended here (aborted, rejected): a write to its key is looked up again."""
        key = self._keys.pop(upload_id, None)
        if key is not None:
            self._by_key.pop(key, None)

    def awaited(self, key: str) -> tuple[str, datetime] | None:
        """(upload id, until when) if a batch grant's client is to write `key`."""
        return self._by_key.get(key)


class UploadContext:
    """The one unit of work and the ports every use case of upload runs on, and the work they
    leave running after their answer (`in_background`)."""

    def __init__(
        self,
        uow: UnitOfWork[Repositories],
        reads: Repositories,
        storage: ObjectStore,
        quota: Quota,
        metadata: Documents,
        *,
        region: str,
        limits: Limits,
    ) -> None:
        self.uow = uow
        self.reads = reads
        self.storage = storage
        self.quota = quota
        self.metadata = metadata
        self.region = region
        self.limits = limits
        self.awaiting = AwaitingClients()
        self.background: set[asyncio.Task[Any]] = set()

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def settle(self) -> None:
        """Wait for the work left running in the background."""
        await asyncio.gather(*self.background, return_exceptions=True)

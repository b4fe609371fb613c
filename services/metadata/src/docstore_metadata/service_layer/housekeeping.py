"""Background work of every metadata replica: delete S3 objects no version needs, purge old trash
(documents and folder rows)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from datetime import timedelta

import structlog

from docstore_messaging.tracing import loop_span
from docstore_metadata.adapters.repositories import Repositories
from docstore_metadata.adapters.storage import ObjectStore
from docstore_metadata.service_layer.documents import Documents
from docstore_metadata.service_layer.folders import purge_expired_folders

log = structlog.get_logger(__name__)


class Housekeeping:
    """`garbage_added` is set after a commit that recorded S3 objects to delete (`Documents`'s
    `garbage_written`): the loop wakes then instead of at its next interval."""

    def __init__(
        self,
        documents: Documents,
        reads: Repositories,
        store: ObjectStore,
        garbage_added: asyncio.Event,
        *,
        garbage_interval: float,
        purge_interval: float,
        purge_lease: float,
    ) -> None:
        self.documents = documents
        self.reads = reads
        self.store = store
        self.garbage_added = garbage_added
        self.garbage_interval = garbage_interval
        self.purge_interval = purge_interval
        self.purge_lease = timedelta(seconds=purge_lease)
        self.claimant = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    async def collect_garbage(self) -> int:
        """Delete the S3 objects recorded by committed prunes and purges, then forget them."""
        deleted = 0
        while rows := await self.reads.documents.pending_garbage():
            for row in rows:
                await self.store.delete(row["bucket"], row["key"])
                await self.reads.documents.forget_garbage(row["_id"])
                deleted += 1
        return deleted

    async def purge_expired(self) -> int:
        """Expired trash: documents (each claimed, `Documents.purge_expired`), then folder rows."""
        purged = await self.documents.purge_expired(self.claimant, lease=self.purge_lease)
        if folders := await purge_expired_folders(self.reads, self.documents.limits.trash_retention):
            log.info("trash_purged_folders", folders=folders)
        return purged

    async def run(self) -> None:
        """Until cancelled (a background task of the runtime, `Services.prepare`)."""
        last_purge = 0.0
        while True:
            self.garbage_added.clear()
            try:
                if time.monotonic() - last_purge >= self.purge_interval:
                    last_purge = time.monotonic()
                    # A purge round deletes documents (file.deleted events): one trace per round.
                    with loop_span("metadata purge trash"):
                        if purged := await self.purge_expired():
                            log.info("trash_purged", documents=purged)
                await self.collect_garbage()
            except asyncio.CancelledError:
                raise
            except Exception:  # S3 or MongoDB away: the rows stay, try again next round
                log.exception("housekeeping_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.garbage_added.wait(), timeout=self.garbage_interval)
            await asyncio.sleep(0.2)  # a short pause: a burst of commits is collected in one round

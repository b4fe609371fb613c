"""The composition root of metadata: settings in, every object the app and its loops use out.

`bootstrap(settings)` builds the clients (none connects before first use, except the one
`buildInfo` probe that chooses the listing strategy, `adapters/keyset.py`), the unit of work and
the use cases. `main.py`'s lifespan registers the consumers on them and stores the result as
`app.state.services`; routes read it through `api/deps.py`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from docstore_events import (
    FileDeleted,
    FileModified,
    FileRestored,
    FileTrashed,
)
from docstore_events.base import Event
from docstore_events.notifications import FileFollowed, FileUnfollowed
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, OutboxRowsCheck, ProcessedEvents, RepairBudget
from docstore_kit.http_transport import async_client
from docstore_kit.s3 import make_s3_client
from docstore_messaging.unit_of_work import MongoUnitOfWork
from docstore_metadata.adapters.accounts_client import AccountsClient
from docstore_metadata.adapters.consistency import RecordedVersions
from docstore_metadata.adapters.keyset import Listing, choose_listing
from docstore_metadata.adapters.previews import signed_preview_url
from docstore_metadata.adapters.repositories import Repositories, ensure_indexes, repositories
from docstore_metadata.adapters.storage import ObjectStore
from docstore_metadata.service_layer.account_projection import AccountProjector
from docstore_metadata.service_layer.account_purge import AccountPurge
from docstore_metadata.service_layer.consistency import RecordedVersionsCheck
from docstore_metadata.service_layer.documents import Documents, Limits
from docstore_metadata.service_layer.folders import FolderLimits, Folders
from docstore_metadata.service_layer.housekeeping import Housekeeping
from docstore_metadata.service_layer.link_access import LinkAccess
from docstore_metadata.service_layer.previews import Previews
from docstore_metadata.service_layer.sharing import Sharing
from docstore_metadata.settings import Settings


@dataclass
class Services:
    settings: Settings
    runtime: ServiceRuntime
    listing: Listing
    uow: MongoUnitOfWork[Repositories]
    reads: Repositories
    """The repositories outside any transaction (reads, and the relay's and housekeeping's rows)."""
    accounts: AccountsClient
    """The accounts service, asked about an account the projection does not know yet (issue 36)."""
    documents: Documents
    folders: Folders
    """Folders as a whole: create, move, trash, restore (README "Folders")."""
    sharing: Sharing
    link_access: LinkAccess
    """What a public link's creator may read now, for the links service (`/internal/links/access`)."""
    store: ObjectStore
    housekeeping: Housekeeping
    previews: Previews
    """Preview states from the indexer's events and signed URLs for the images (README "Previews")."""
    account_purge: AccountPurge
    """A deleted account's documents, purged after the grace period (README "Deleting an account")."""
    account_projector: AccountProjector
    """What metadata keeps of each account, from `account.*` events (README "Account projection")."""
    consistency: ConsistencyChecker
    """The recorded-versions check against the indexer (issue 32; README "Consistency check")."""

    async def consistency_indexes(self) -> None:
        await RecordedVersions(self.runtime.db, topic_prefix=self.settings.kafka_topic_prefix).ensure_indexes()

    async def prepare(self) -> None:
        """Create the indexes and register the background loops (before the runtime starts)."""
        await ensure_indexes(self.runtime.db, self.listing)
        self.runtime.background("metadata-housekeeping", self.housekeeping.run)
        self.runtime.background("metadata-account-purge", self.account_purge.run)
        self.runtime.background("metadata-folder-jobs", self.folders.run)


async def bootstrap(settings: Settings, *, listing: Listing | None = None) -> Services:
    """Metadata's services for `settings`. `listing` replaces the strategy `choose_listing` picks
    (tests pass one built on a client of their own, to watch its queries)."""
    runtime = ServiceRuntime(settings)
    db = runtime.db
    listing = listing or await choose_listing(settings.listing_strategy, db)
    auth = InternalAuth.from_settings(settings)
    accounts = AccountsClient(
        async_client(base_url=settings.accounts_url, timeout=10.0, auth=auth.client_auth("accounts"))
    )
    bound = repositories(db, listing, accounts)
    uow = runtime.events.unit_of_work(bound)
    reads = bound(None)
    garbage_added = asyncio.Event()
    limits = Limits(
        version_caps=settings.version_caps(),
        trash_retention=timedelta(days=settings.trash_retention_days),
        page_size_max=settings.page_size_max,
        search_scan_budget=settings.search_scan_budget,
        changes_wait_max_seconds=settings.changes_wait_max_seconds,
        changes_poll_seconds=settings.changes_poll_seconds,
    )
    store = ObjectStore(make_s3_client(settings), make_s3_client(settings, public=True))
    documents = Documents(uow, reads, limits, garbage_written=garbage_added.set, store=store)
    previews = Previews(
        uow, reads, sign=functools.partial(signed_preview_url, store), url_seconds=settings.download_url_seconds
    )
    return Services(
        consistency=consistency_on(settings, runtime),
        previews=previews,
        settings=settings,
        runtime=runtime,
        listing=listing,
        uow=uow,
        reads=reads,
        accounts=accounts,
        account_projector=AccountProjector(uow),
        account_purge=AccountPurge(
            uow,
            reads,
            documents,
            grace=timedelta(days=settings.account_purge_grace_days),
            interval=settings.account_purge_interval_seconds,
            lease=timedelta(seconds=settings.purge_lease_seconds),
        ),
        documents=documents,
        folders=Folders(
            uow,
            reads,
            FolderLimits(
                trash_retention=timedelta(days=settings.trash_retention_days),
                batch=settings.folder_batch,
                wait_seconds=settings.folder_wait_seconds,
                page_size_max=settings.page_size_max,
            ),
            claimant=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        ),
        sharing=Sharing(uow, reads, region=settings.region),
        link_access=LinkAccess(reads, store, previews),
        store=store,
        housekeeping=Housekeeping(
            documents,
            reads,
            store,
            garbage_added,
            garbage_interval=settings.garbage_interval_seconds,
            purge_interval=settings.purge_interval_seconds,
            purge_lease=settings.purge_lease_seconds,
        ),
    )


OUTBOX_CONSUMERS: dict[type[Event], tuple[str, ...]] = {
    FileModified: ("quota", "notify"),
    FileDeleted: ("quota",),
    FileTrashed: ("quota",),
    FileRestored: ("quota",),
    FileFollowed: ("notify",),
    FileUnfollowed: ("notify",),
}
"""Metadata's events that quota and notify apply (their READMEs), for the outbox check: those each
applies every time, with a processed-event record. (Notify's `share.link-used` and
`share.link-revoked` leave no record when they call for no mail, so they are not checked.)"""


def consistency_on(settings: Settings, runtime: ServiceRuntime) -> ConsistencyChecker:
    """The recorded-versions check (asks the indexer which `file.version-recorded` it applied) and
    the outbox check (asks quota and notify which of metadata's other events they applied)."""
    auth = InternalAuth.from_settings(settings)
    indexer = async_client(base_url=settings.indexer_url, timeout=10.0, auth=auth.client_auth("indexer"))
    check = RecordedVersionsCheck(
        RecordedVersions(runtime.db, topic_prefix=settings.kafka_topic_prefix),
        runtime.events.outbox,
        [ProcessedEvents("indexer", indexer)],
        RepairBudget(runtime.db),
        settle_seconds=settings.consistency_settle_seconds,
    )
    # The events quota and notify apply, checked as metadata's outbox still holds them (a deletion
    # has no state left to rebuild its event from; a mail owed is told by its event alone).
    asked = {
        "quota": ProcessedEvents.at("quota", settings.quota_url, auth.client_auth("quota")),
        "notify": ProcessedEvents.at("notify", settings.notify_url, auth.client_auth("notify")),
    }
    prefix = settings.kafka_topic_prefix
    to_consumers = OutboxRowsCheck(
        "metadata.outbox",
        runtime.events.outbox,
        {event.topic(prefix): [asked[name] for name in names] for event, names in OUTBOX_CONSUMERS.items()},
        RepairBudget(runtime.db),
        settle_seconds=settings.consistency_settle_seconds,
    )
    return ConsistencyChecker(
        runtime.db,
        [check, to_consumers],
        service=settings.service,
        page_size=settings.consistency_page_size,
        pages_per_run=settings.consistency_pages_per_run,
    )

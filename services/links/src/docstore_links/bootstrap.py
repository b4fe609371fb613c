"""The composition root: every object the links service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in `main`'s
lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_links.adapters.metadata import MetadataClient
from docstore_links.adapters.repositories import Repositories, repositories
from docstore_links.service_layer.links import Links, LinkSweeper
from docstore_links.service_layer.revocations import Revocations
from docstore_links.settings import Settings
from docstore_messaging.unit_of_work import MongoUnitOfWork


@dataclass(frozen=True)
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: MongoUnitOfWork[Repositories]
    reads: Repositories
    metadata: MetadataClient
    links: Links
    link_sweeper: LinkSweeper
    revocations: Revocations

    async def prepare(self) -> None:
        """Create the indexes and register the background loop (before the runtime starts)."""
        await self.reads.links.ensure_indexes()
        self.runtime.background("links-sweeper", self.link_sweeper.run)


def bootstrap(settings: Settings) -> Services:
    runtime = ServiceRuntime(settings)
    bound = repositories(runtime.db)
    uow = runtime.events.unit_of_work(bound)
    reads = bound(None)
    auth = InternalAuth.from_settings(settings)
    metadata = MetadataClient(
        httpx.AsyncClient(base_url=settings.metadata_url, timeout=10.0, auth=auth.client_auth("metadata"))
    )
    links = Links(uow, reads, metadata, signed_url_seconds=settings.link_download_url_seconds)
    return Services(
        settings=settings,
        runtime=runtime,
        uow=uow,
        reads=reads,
        metadata=metadata,
        links=links,
        link_sweeper=LinkSweeper(links, interval=settings.link_sweep_interval_seconds),
        revocations=Revocations(uow),
    )

"""The composition root: every object the links service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in `main`'s
lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from docstore_events import ShareLinkExpiryNeared
from docstore_events.base import Event
from docstore_kit.app import ServiceRuntime
from docstore_kit.auth import InternalAuth
from docstore_kit.consistency import ConsistencyChecker, ProcessedEvents, outbox_checker
from docstore_kit.http_transport import async_client
from docstore_kit.passwords import use_password_hash_cost
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
    consistency: ConsistencyChecker
    """The outbox check: `share.link-expiry-neared` rows notify never applied are published again."""

    async def prepare(self) -> None:
        """Create the indexes and register the background loop (before the runtime starts)."""
        await self.reads.links.ensure_indexes()
        self.runtime.background("links-sweeper", self.link_sweeper.run)
        if self.settings.consistency_period_seconds > 0:
            period = self.settings.consistency_period_seconds
            self.runtime.background("links-consistency", lambda: self.consistency.run_forever(period))


def bootstrap(settings: Settings) -> Services:
    use_password_hash_cost(settings.password_hash_cost)
    runtime = ServiceRuntime(settings)
    bound = repositories(runtime.db)
    uow = runtime.events.unit_of_work(bound)
    reads = bound(None)
    auth = InternalAuth.from_settings(settings)
    metadata = MetadataClient(
        async_client(base_url=settings.metadata_url, timeout=10.0, auth=auth.client_auth("metadata"))
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
        consistency=consistency_on(settings, runtime),
    )


OUTBOX_CONSUMERS: dict[type[Event], tuple[str, ...]] = {ShareLinkExpiryNeared: ("notify",)}
"""The link events notify applies every time, with a processed-event record (the mail it owes):
the outbox check asks it about these (as metadata's did before the move). Not `share.link-used` or
`share.link-revoked`, which notify records only when they call for a mail."""


def consistency_on(settings: Settings, runtime: ServiceRuntime) -> ConsistencyChecker:
    auth = InternalAuth.from_settings(settings)
    asked = {"notify": ProcessedEvents.at("notify", settings.notify_url, auth.client_auth("notify"))}
    prefix = settings.kafka_topic_prefix
    return outbox_checker(
        "links.outbox",
        runtime.db,
        runtime.events.outbox,
        {event.topic(prefix): [asked[name] for name in names] for event, names in OUTBOX_CONSUMERS.items()},
        settings,
    )

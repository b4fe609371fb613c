"""The composition root: every object the analytics service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in
`main`'s lifespan (or in the `rebuild` command)."""

from __future__ import annotations

from dataclasses import dataclass

from docstore_analytics.adapters.repositories import repositories
from docstore_analytics.service_layer.ports import Repos
from docstore_analytics.service_layer.reports import Reports
from docstore_analytics.service_layer.rollups import Recorder
from docstore_analytics.settings import Settings
from docstore_kit.app import ServiceRuntime
from docstore_messaging.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Services:
    settings: Settings
    runtime: ServiceRuntime
    uow: UnitOfWork[Repos]
    recorder: Recorder
    reports: Reports


def bootstrap(settings: Settings) -> Services:
    runtime = ServiceRuntime(settings)
    bound = repositories(runtime.db)
    uow: UnitOfWork[Repos] = runtime.events.unit_of_work(bound)
    reads = bound(None)
    recorder = Recorder(uow, reads, consumer=settings.service, wait=settings.rebuild_wait_seconds)
    return Services(settings=settings, runtime=runtime, uow=uow, recorder=recorder, reports=Reports(uow, reads))

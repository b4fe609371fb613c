"""The composition root: every object the accounts service runs with, built from its settings.

Nothing connects here: the MongoDB client connects on first use, the runtime starts in `main`'s
lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from docstore_accounts.settings import Settings
from docstore_kit.app import ServiceRuntime


@dataclass(frozen=True)
class Services:
    settings: Settings
    runtime: ServiceRuntime


def bootstrap(settings: Settings) -> Services:
    return Services(settings=settings, runtime=ServiceRuntime(settings))

"""The quota repositories one transaction hands out (see `docstore_messaging.unit_of_work`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_quota.adapters import reservations, usage_repository
from docstore_quota.adapters.reservations import ReservationRepository
from docstore_quota.adapters.usage_repository import UsageRepository


@dataclass(frozen=True)
class Repositories:
    usage: UsageRepository
    reservations: ReservationRepository


def repositories(db: AsyncDatabase[Any]) -> Callable[[AsyncClientSession | None], Repositories]:
    """Builds the repositories bound to a session (None: outside any transaction)."""

    def bound(session: AsyncClientSession | None) -> Repositories:
        return Repositories(UsageRepository(db, session), ReservationRepository(db, session))

    return bound


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await usage_repository.ensure_indexes(db)
    await reservations.ensure_indexes(db)

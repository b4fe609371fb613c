"""The links service's repositories, bound to one session (None: outside any transaction)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from docstore_links.adapters.repository import LinkRepository


@dataclass(frozen=True)
class Repositories:
    links: LinkRepository


def repositories(db: AsyncDatabase[Any]) -> Callable[[AsyncClientSession | None], Repositories]:
    def bound(session: AsyncClientSession | None) -> Repositories:
        return Repositories(links=LinkRepository(db, session))

    return bound

"""Fixtures the event backbone's integration tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def db(isolated: dict[str, str]) -> AsyncIterator[AsyncDatabase[Any]]:
    """This test's own database on the real MongoDB-protocol server."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    yield mongo[isolated["mongodb_database"]]
    await mongo.close()

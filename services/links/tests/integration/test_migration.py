"""Today's public links move from metadata's database into the links service's by a migration
(issue 36): both link collections copied exactly, the source only read, its indexes made (the
unique token digest), a rerun after changes at the source leaves an exact copy again, and a
migrated link is found by its token and managed by the service's own repository."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from docstore_links.adapters.migration import LINK_COLLECTIONS
from docstore_links.adapters.repository import LinkRepository
from docstore_links.domain import links as rules
from docstore_links.domain.links import LinkOptions
from docstore_links.migrate import migrate
from docstore_links.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TOKEN = "t" * 43


@pytest_asyncio.fixture
async def mongo(endpoints: Any) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    yield client
    await client.close()


def a_link(**changes: Any) -> dict[str, Any]:
    document = {"_id": "doc-1", "account_id": "owner", "name": "report.pdf"}
    row = rules.new_link(
        document=document, created_by="owner", options=LinkOptions(), token=TOKEN, password_hash=None, now=NOW
    )
    return row | changes


async def test_the_links_move_over_exactly_and_a_rerun_leaves_an_exact_copy(
    mongo: AsyncMongoClient[Any], endpoints: Any
) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, target = mongo[f"test_{suffix}_metadata"], mongo[f"test_{suffix}_links"]
    try:
        await LinkRepository(source).ensure_indexes()  # as metadata made them: the same repository
        live = a_link(expires_at=datetime.now(UTC) + timedelta(days=3))
        revoked = a_link(
            _id="lnk_revoked", token_digest=rules.token_digest("r" * 43), revoked_at=NOW, revoked_reason="revoked"
        )
        await source.share_links.insert_many([live, revoked])
        await source.link_policies.insert_one({"_id": "doc-1", "editors_may_create_links": True, "owner_id": "owner"})
        settings = Settings(mongodb_url=endpoints.mongo_url, mongodb_database=target.name, region="us-west-2")

        first = await migrate(settings, source.name)
        assert first["collections"]["share_links"] == {"copied": 2, "removed": 0, "indexes": 6}
        assert first["collections"]["link_policies"]["copied"] == 1
        for name in LINK_COLLECTIONS:
            assert await target[name].find({}).sort("_id").to_list(None) == (
                await source[name].find({}).sort("_id").to_list(None)
            )
        unique = [spec async for spec in await target.share_links.list_indexes() if spec.get("unique")]
        assert [list(spec["key"]) for spec in unique] == [["token_digest"]]

        # The service finds a migrated link by its token, and counts a use on it.
        repository = LinkRepository(target)
        assert (await repository.by_digest(rules.token_digest(TOKEN)))["_id"] == live["_id"]
        assert (await repository.policy("doc-1"))["editors_may_create_links"] is True
        assert await repository.count_use(live["_id"], limited=False, now=datetime.now(UTC))

        # A rerun after changes at the source (a new link, one gone) leaves an exact copy again.
        await source.share_links.delete_one({"_id": revoked["_id"]})
        await source.share_links.insert_one(a_link(_id="lnk_new", token_digest=rules.token_digest("n" * 43)))
        again = await migrate(settings, source.name)
        assert again["collections"]["share_links"]["removed"] == 1
        assert await target.share_links.find({}).sort("_id").to_list(None) == (
            await source.share_links.find({}).sort("_id").to_list(None)
        )
        with pytest.raises(SystemExit):
            await migrate(settings, target.name)  # never onto itself
    finally:
        await mongo.drop_database(source.name)
        await mongo.drop_database(target.name)

"""Today's account data moves from metadata's database into accounts' by a migration (issue 36):
every account collection copied exactly, the source only read, its indexes made, and a rerun after
changes at the source (a sign-up, a change, a spent token removed) leaves an exact copy again. The
audit trail moves with it: its rows copied as they are, every chain verifying in the new home with
the audit's own use case, and neither a rerun nor the new consumer group's redelivery of the same
events writing a record twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from docstore_accounts.adapters.migration import ACCOUNT_COLLECTIONS, AUDIT_COLLECTIONS
from docstore_accounts.bootstrap import audit_trail_on
from docstore_accounts.migrate import migrate
from docstore_accounts.service_layer.audit import AuditTrail, Delivered
from docstore_accounts.settings import Settings
from docstore_messaging.outbox import Outbox
from docstore_messaging.unit_of_work import MongoUnitOfWork

pytestmark = pytest.mark.integration

# Now, not a fixed day: `account_tokens` has a TTL index (a day past `expires_at`), and the server
# deletes a token seeded with a day long gone while the test compares the copies.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest_asyncio.fixture
async def mongo(endpoints: Any) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    yield client
    await client.close()


async def seed(db: Any) -> None:
    """Metadata's account collections as a region holds them: a home account with two-step
    sign-in, another region's replica, their usernames, a queued replica, a mail token, a counter,
    a verified address, a notice and an app password."""
    await db.accounts.create_index("username", unique=True)
    await db.account_tokens.create_index("expires_at", expireAfterSeconds=86400)
    await db.accounts.insert_many(
        [
            {"_id": "a1", "username": "ann", "email": "ann@x.example", "plan": "premium", "home_region": "us-west-2",
             "password_hash": "$argon2id$v=19$...", "status": "active", "replica_version": 3, "created_at": NOW,
             "email_verified": True, "mfa": {"enabled": True, "secret": "gAAAA...", "recovery": ["d1", "d2"]}},
            {"_id": "a2", "username": "bob", "email": "bob@x.example", "plan": "free", "home_region": "us-west-2",
             "password_hash": "$argon2id$v=19$...", "status": "deleted", "replica_version": 2, "created_at": NOW},
        ]
    )  # fmt: skip
    await db.replicas.insert_one(
        {
            "_id": "r1",
            "username": "cy",
            "home_region": "ap-southeast-2",
            "plan": "free",
            "status": "active",
            "version": 1,
        }
    )
    await db.usernames.insert_many(
        [
            {"_id": name, "account_id": owner, "home_region": region}
            for name, owner, region in (
                ("ann", "a1", "us-west-2"),
                ("bob", "a2", "us-west-2"),
                ("cy", "r1", "ap-southeast-2"),
            )
        ]
    )
    await db.replication_outbox.insert_one(
        {"_id": "ap-southeast-2:a1", "account_id": "a1", "state": {"version": 3}, "attempts": 0}
    )
    await db.account_tokens.insert_one(
        {
            "_id": "digest-1",
            "account_id": "a1",
            "purpose": "verify-email",
            "expires_at": NOW + timedelta(days=1),
            "used_at": None,
        }
    )
    await db.account_counters.insert_one(
        {"_id": "a1:reset:2026112512", "count": 1, "expires_at": NOW + timedelta(hours=1)}
    )
    await db.verified_emails.insert_one({"_id": "ann@x.example", "account_id": "a1"})
    await db.account_notices.insert_one(
        {"_id": "n1", "account_id": "a1", "kind": "password-changed", "next_attempt_at": NOW}
    )
    await db.app_passwords.insert_one(
        {
            "_id": "ap1",
            "account_id": "a1",
            "name": "rclone",
            "scope": "webdav-sync",
            "digest": "x" * 64,
            "created_at": NOW,
            "last_used_at": None,
        }
    )


async def contents(db: Any, names: tuple[str, ...] = ACCOUNT_COLLECTIONS) -> dict[str, list[dict[str, Any]]]:
    return {name: await db[name].find({}, sort=[("_id", 1)]).to_list(None) for name in names}


async def test_the_migration_copies_the_account_collections_exactly_and_again(mongo, endpoints) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, target = mongo[f"test_{suffix}_metadata"], mongo[f"test_{suffix}_accounts"]
    settings = Settings(mongodb_url=endpoints.mongo_url, mongodb_database=target.name, region="us-west-2")
    try:
        await seed(source)
        before = await contents(source)

        first = await migrate(settings, source.name)
        assert first["collections"]["accounts"] == {"copied": 2, "removed": 0, "indexes": 1}
        assert await contents(target) == before
        assert await contents(source) == before  # only read
        indexes = {spec["name"]: spec async for spec in await target.account_tokens.list_indexes()}
        assert any(spec.get("expireAfterSeconds") == 86400 for spec in indexes.values())
        unique = [spec async for spec in await target.accounts.list_indexes() if spec.get("unique")]
        assert [list(spec["key"]) for spec in unique] == [["username"]]

        # Run again, unchanged: the same copy.
        await migrate(settings, source.name)
        assert await contents(target) == before

        # The source moved on before the cutover: a sign-up, a plan change, a spent token gone.
        await source.accounts.insert_one(
            {
                "_id": "a3",
                "username": "dee",
                "email": "d@x.example",
                "plan": "free",
                "home_region": "us-west-2",
                "status": "active",
            }
        )
        await source.accounts.update_one({"_id": "a2"}, {"$set": {"plan": "premium"}})
        await source.account_tokens.delete_one({"_id": "digest-1"})
        again = await migrate(settings, source.name)
        assert again["collections"]["account_tokens"]["removed"] == 1
        assert await contents(target) == await contents(source)
    finally:
        await mongo.drop_database(source.name)
        await mongo.drop_database(target.name)


# --- the audit trail -----------------------------------------------------------------------------


def trail_on(client: AsyncMongoClient[Any], db: Any, settings: Settings) -> AuditTrail:
    """The audit trail on `db` as the service (and the operators' command) builds it."""
    return audit_trail_on(settings, lambda bind: MongoUnitOfWork(client, db, Outbox(db, source="test"), bind), db)


def renamed(account_id: str, n: int, at: datetime) -> Delivered:
    """An action as metadata's audit consumer received it: a document renamed."""
    return Delivered(
        event_id=f"ev-{account_id}-{n}",
        event_type="file.details-changed",
        data={"account_id": account_id, "document_id": "doc-1", "name": f"name-{n}.txt", "path": "/", "tags": []},
        time=at,
        source="/docstore/us-west-2/metadata",
        client_address="203.0.113.9",
    )


async def test_the_migration_moves_the_audit_trail_and_its_chains_verify_in_the_new_home(
    mongo: AsyncMongoClient[Any], endpoints: Any
) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, target = mongo[f"test_{suffix}_metadata"], mongo[f"test_{suffix}_accounts"]
    settings = Settings(mongodb_url=endpoints.mongo_url, mongodb_database=target.name, region="us-west-2")
    now = datetime.now(UTC)
    try:
        # Metadata's trail before the cutover: two accounts' chains, the first with its oldest
        # records purged by retention (its chain verifies from an anchor, not from the start).
        old = trail_on(mongo, source, settings)
        await old.reads.ensure_indexes()
        ada, bob = f"ada-{suffix}", f"bob-{suffix}"
        history = [renamed(ada, n, now - timedelta(days=400, minutes=-n)) for n in range(3)]
        history += [renamed(ada, n, now - timedelta(minutes=10 - n)) for n in range(3, 7)]
        history += [renamed(bob, n, now - timedelta(minutes=5 - n)) for n in range(2)]
        assert await old.record_once(history) == 9
        assert await old.purge_expired() == 3
        before = await contents(source, AUDIT_COLLECTIONS)
        assert len(before["audit_log"]) == 6 and len(before["audit_chains"]) == 2
        verdicts = await old.verify_all()

        first = await migrate(settings, source.name)
        assert first["collections"]["audit_log"] == {"copied": 6, "removed": 0, "indexes": 4}
        assert first["collections"]["audit_chains"] == {"copied": 2, "removed": 0, "indexes": 0}
        assert await contents(target, AUDIT_COLLECTIONS) == before
        assert await contents(source, AUDIT_COLLECTIONS) == before  # only read

        # The new home's own verify use case: every chain holds, from the same anchor to the same head.
        new = trail_on(mongo, target, settings)
        assert await new.verify_all() == verdicts
        assert {account: v.ok for account, v in verdicts.items()} == {ada: True, bob: True}
        assert (verdicts[ada].first_seq, verdicts[ada].last_seq, verdicts[ada].checked) == (4, 7, 4)
        # ... which is no formality: a record edited in the copy is found there.
        await target.audit_log.update_one({"_id": f"{ada}:5"}, {"$set": {"details.name": "innocent.txt"}})
        assert ((v := await new.verify(ada)).ok, v.broken_at) == (False, 5)

        # Run again: the edited row is the source's again, and nothing is there twice.
        again = await migrate(settings, source.name)
        assert again["collections"]["audit_log"] == {"copied": 6, "removed": 0, "indexes": 4}
        assert await contents(target, AUDIT_COLLECTIONS) == before
        assert await new.verify_all() == verdicts

        # The new consumer group reads the retained topics from their start: the events the copied
        # log holds are skipped by their id, and the next action continues the copied chain.
        assert await new.record_once(history[3:]) == 0
        assert await new.record_once([renamed(ada, 7, now)]) == 1
        rows = await target.audit_log.find({"account_id": ada}, sort=[("seq", 1)]).to_list(None)
        assert [row["seq"] for row in rows] == [4, 5, 6, 7, 8]
        assert (v := await new.verify(ada)).ok and (v.first_seq, v.last_seq) == (4, 8)
    finally:
        await mongo.drop_database(source.name)
        await mongo.drop_database(target.name)

"""The audit trail on the real servers: events from Kafka become chained records exactly once
(redelivered, or with the process killed between the records' commit and the offset commit),
with the request origin the producer stamped; retention purges and the chain still verifies."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_accounts.adapters.audit_log import AuditLog
from docstore_accounts.consumers.audit import AuditConsumer, register_audit
from docstore_accounts.domain.audit import START, ChainVerifier
from docstore_devplatform.testing import eventually
from docstore_events import FileDetailsChanged, FileTrashed, ShareLinkUsed, encode
from docstore_events.activity import FileDownloadUrlIssued
from docstore_messaging.batches import BatchConsumer
from docstore_messaging.origin import CE_CLIENT_ADDRESS, CE_USER_AGENT
from docstore_messaging.tasks import consumer_tasks, stop_tasks

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


def renamed(account_id: str, n: int, document_id: str = "doc-1") -> FileDetailsChanged:
    return FileDetailsChanged(account_id=account_id, document_id=document_id, name=f"name-{n}.txt", path="/", tags=[])


async def records_of(accounts: Harness, account_id: str) -> list[dict[str, Any]]:
    return await accounts.db["audit_log"].find({"account_id": account_id}).sort("seq", 1).to_list(None)


async def activity(accounts: Harness, account_id: str, **params: Any) -> dict[str, Any]:
    answer = await accounts.get("/account/activity", account_id, **params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_events_become_one_chain_per_account_in_order_with_their_origin(accounts: Harness) -> None:
    ada, bob = f"acc-{uuid.uuid4().hex[:8]}", f"acc-{uuid.uuid4().hex[:8]}"
    origin = {CE_CLIENT_ADDRESS: "203.0.113.44", CE_USER_AGENT: "DocStoreTest/1.0"}
    for n in range(5):
        await accounts.events.send(renamed(ada, n), headers=origin)
    await accounts.events.send(FileTrashed(account_id=bob, document_id="doc-b"))

    await eventually(lambda: _count(accounts, ada, 5), timeout=60)
    await eventually(lambda: _count(accounts, bob, 1), timeout=60)
    rows = await records_of(accounts, ada)
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["details"]["name"] for row in rows] == [f"name-{n}.txt" for n in range(5)]
    assert {(row["client_address"], row["user_agent"]) for row in rows} == {("203.0.113.44", "DocStoreTest/1.0")}
    assert rows[0]["actor"] == {"account_id": ada} and rows[0]["action"] == "file.details-changed"
    assert rows[0]["region"] == "us-west-2"  # the test publisher's source names none: this region

    page = await activity(accounts, ada, limit=2)
    assert [item["seq"] for item in page["items"]] == [5, 4] and page["next_cursor"]
    rest = await activity(accounts, ada, limit=10, cursor=page["next_cursor"])
    assert [item["seq"] for item in rest["items"]] == [3, 2, 1] and rest["next_cursor"] is None
    # Bob's record is in his chain only, and Ada never sees it.
    assert all(item["account_id"] == ada for item in page["items"] + rest["items"])
    [bob_record] = (await activity(accounts, bob))["items"]
    assert (bob_record["seq"], bob_record["action"], bob_record["prev_hash"]) == (1, "file.trashed", START.hash)

    verdict = (await accounts.get("/account/activity/verify", ada)).json()
    assert verdict == {"ok": True, "checked": 5, "first_seq": 1, "last_seq": 5, "broken_at": None, "reason": None}


async def _count(accounts: Harness, account_id: str, expected: int) -> bool:
    return await accounts.db["audit_log"].count_documents({"account_id": account_id}) == expected


async def test_a_redelivered_event_is_recorded_once(accounts: Harness) -> None:
    ada = f"acc-{uuid.uuid4().hex[:8]}"
    first = await accounts.events.send(renamed(ada, 0))
    await eventually(lambda: _count(accounts, ada, 1), timeout=60)
    for _ in range(3):
        await accounts.events.resend(first)  # Kafka may deliver it again; so may a relay that died
    await accounts.events.send(renamed(ada, 1))  # once this is in, the resends were seen before it
    await eventually(lambda: _count(accounts, ada, 2), timeout=60)
    rows = await records_of(accounts, ada)
    assert [(row["seq"], row["event_id"]) for row in rows][0] == (1, first.id)
    assert (await accounts.get("/account/activity/verify", ada)).json()["ok"] is True


async def test_a_link_download_is_the_links_doing_and_lands_in_the_owners_trail(accounts: Harness) -> None:
    owner = f"acc-{uuid.uuid4().hex[:8]}"
    used = ShareLinkUsed(
        account_id=owner, link_id="link-1", document_id="doc-1", document_name="a.pdf", version=1, downloads=1
    )
    await accounts.events.send(used, headers={CE_CLIENT_ADDRESS: "198.51.100.9"})
    await eventually(lambda: _count(accounts, owner, 1), timeout=60)
    [row] = await records_of(accounts, owner)
    assert row["actor"] == {"link_id": "link-1"} and row["document_id"] == "doc-1"
    assert row["client_address"] == "198.51.100.9" and row["user_agent"] is None


async def test_a_grantees_download_is_in_the_owners_trail_too_once_however_often_delivered(
    accounts: Harness,
) -> None:
    owner, grantee = f"acc-{uuid.uuid4().hex[:8]}", f"acc-{uuid.uuid4().hex[:8]}"
    download = FileDownloadUrlIssued(account_id=grantee, owner_id=owner, document_id="doc-1", version=3, name="a.pdf")
    sent = await accounts.events.send(download, headers={CE_CLIENT_ADDRESS: "198.51.100.7"})
    await eventually(lambda: _count(accounts, owner, 1), timeout=60)
    await eventually(lambda: _count(accounts, grantee, 1), timeout=60)
    for _ in range(2):
        await accounts.events.resend(sent)
    await accounts.events.send(renamed(owner, 0))  # once this is in, the resends were seen before it
    await eventually(lambda: _count(accounts, owner, 2), timeout=60)
    assert await _count(accounts, grantee, 1)
    [mine] = await records_of(accounts, grantee)
    seen, _ = await records_of(accounts, owner)
    assert (mine["event_id"], seen["event_id"]) == (sent.id, f"{sent.id}/{owner}")
    for row in (mine, seen):
        assert row["action"] == "file.download-url-issued" and row["document_id"] == "doc-1"
        assert row["actor"] == {"account_id": grantee} and row["client_address"] == "198.51.100.7"
        assert row["details"]["version"] == 3
    # The owner reads it in their own activity; both chains verify.
    listed = (await activity(accounts, owner, action="file.download-url-issued"))["items"]
    assert [item["actor"] for item in listed] == [{"account_id": grantee}]
    for account in (owner, grantee):
        assert (await accounts.get("/account/activity/verify", account)).json()["ok"] is True


async def test_two_writers_at_once_never_fork_a_chain(accounts: Harness) -> None:
    """Two deliveries of different events of one account, applied concurrently (two replicas after a
    rebalance): one waits for the other; the chain stays one line."""
    from docstore_accounts.service_layer.audit import Delivered

    ada = f"acc-{uuid.uuid4().hex[:8]}"
    trail = accounts.services.audit

    def delivery(n: int) -> Delivered:
        return Delivered(
            event_id=f"ev-{ada}-{n}",
            event_type="file.details-changed",
            data=renamed(ada, n).model_dump(mode="json"),
            time=datetime.now(UTC),
            source="/docstore/us-west-2/metadata",
        )

    await asyncio.gather(*(trail.record_once([delivery(n)]) for n in range(6)))
    rows = await records_of(accounts, ada)
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert (await trail.verify(ada)).ok


async def test_retention_purges_old_records_and_the_rest_still_verifies(accounts: Harness) -> None:
    from docstore_accounts.service_layer.audit import Delivered

    ada = f"acc-{uuid.uuid4().hex[:8]}"
    trail = accounts.services.audit
    long_ago = datetime.now(UTC) - timedelta(days=400)

    def delivery(n: int, at: datetime) -> Delivered:
        return Delivered(
            event_id=f"ev-{ada}-{n}",
            event_type="file.details-changed",
            data=renamed(ada, n).model_dump(mode="json"),
            time=at,
            source="/docstore/us-west-2/metadata",
        )

    await trail.record_once([delivery(n, long_ago + timedelta(minutes=n)) for n in range(3)])
    await trail.record_once([delivery(n, datetime.now(UTC)) for n in range(3, 5)])
    # The harness's own retention loop makes its first sweep at startup and may take these three
    # before this call does, so the proof is what is left, not the count this call returns.
    await trail.purge_expired()
    rows = await records_of(accounts, ada)
    assert [row["seq"] for row in rows] == [4, 5]
    verdict = await trail.verify(ada)
    assert (verdict.ok, verdict.checked, verdict.first_seq, verdict.last_seq) == (True, 2, 4, 5)
    # The anchor is what verification starts from: a record removed after it is still found.
    await accounts.db["audit_log"].delete_one({"account_id": ada, "seq": 4})
    broken = await trail.verify(ada)
    assert (broken.ok, broken.broken_at) == (False, 5)
    # New records continue the chain after the purge.
    await trail.record_once([delivery(9, datetime.now(UTC))])
    assert [row["seq"] for row in await records_of(accounts, ada)] == [5, 6]


async def test_tampering_with_stored_records_is_found_at_the_record(accounts: Harness) -> None:
    from docstore_accounts.service_layer.audit import Delivered

    trail = accounts.services.audit

    async def fresh_chain() -> str:
        account = f"acc-{uuid.uuid4().hex[:8]}"
        await trail.record_once(
            [
                Delivered(
                    event_id=f"ev-{account}-{n}",
                    event_type="file.details-changed",
                    data=renamed(account, n).model_dump(mode="json"),
                    time=datetime.now(UTC),
                    source="/docstore/us-west-2/metadata",
                )
                for n in range(5)
            ]
        )
        assert (await trail.verify(account)).ok
        return account

    log = accounts.db["audit_log"]
    edited = await fresh_chain()
    await log.update_one({"account_id": edited, "seq": 3}, {"$set": {"details.name": "innocent.txt"}})
    assert ((v := await trail.verify(edited)).ok, v.broken_at) == (False, 3)

    deleted = await fresh_chain()
    await log.delete_one({"account_id": deleted, "seq": 2})
    assert ((v := await trail.verify(deleted)).ok, v.broken_at) == (False, 3)

    reordered = await fresh_chain()
    await log.update_one({"account_id": reordered, "seq": 2}, {"$set": {"seq": 99}})
    await log.update_one({"account_id": reordered, "seq": 3}, {"$set": {"seq": 2}})
    await log.update_one({"account_id": reordered, "seq": 99}, {"$set": {"seq": 3}})
    assert ((v := await trail.verify(reordered)).ok, v.broken_at) == (False, 2)

    truncated = await fresh_chain()
    await log.delete_one({"account_id": truncated, "seq": 5})
    assert ((v := await trail.verify(truncated)).ok, v.broken_at) == (False, 5)


# --- killed mid-batch ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_accounts(isolated: dict[str, str], port: int, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ACCOUNTS_KAFKA_BOOTSTRAP_SERVERS": isolated["kafka_bootstrap_servers"],
        "ACCOUNTS_KAFKA_TOPIC_PREFIX": isolated["kafka_topic_prefix"],
        "ACCOUNTS_MONGODB_URL": isolated["mongodb_url"],
        "ACCOUNTS_MONGODB_DATABASE": isolated["mongodb_database"],
        "ACCOUNTS_REGION": isolated["region"],
        **extra_env,
    }
    args = [sys.executable, "-m", "uvicorn", "docstore_accounts.main:app", "--factory", "--port", str(port)]
    return subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def produce(bootstrap: str, records: list[Any]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=[(k, v.encode()) for k, v in record.headers.items()]
            )
    finally:
        await producer.stop()


@pytest.mark.slow
async def test_killed_after_the_records_commit_before_the_offsets_records_each_event_once(
    isolated: dict[str, str], tmp_path: Path
) -> None:
    ada = f"acc-{uuid.uuid4().hex[:8]}"
    prefix = isolated["kafka_topic_prefix"]
    # Events only the audit consumes, so its batch is the one that reaches the crash point.
    records = [encode(renamed(ada, n), source="/docstore/us-west-2/metadata", topic_prefix=prefix) for n in range(8)]
    await produce(isolated["kafka_bootstrap_servers"], records)

    marker = tmp_path / "crashed"
    log = tmp_path / "accounts.log"
    crash = {"DOCSTORE_CRASH_AT": "consumer.after_effect", "DOCSTORE_CRASH_MARKER": str(marker)}
    first = start_accounts(isolated, free_port(), log, **crash)
    try:
        exit_code = await asyncio.to_thread(first.wait, 120)
    finally:
        first.kill()
    assert exit_code == 137 and marker.exists(), log.read_text()[-3000:]

    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    db = mongo[isolated["mongodb_database"]]
    written_before_restart = await db["audit_log"].count_documents({"account_id": ada})
    assert written_before_restart >= 1  # the crash came after a batch's records committed
    port = free_port()
    second = start_accounts(isolated, port, log, **crash)
    try:
        await eventually(lambda: _count_in(db, ada, 8), timeout=120, interval=0.5)
        # Its offsets were not committed: the restarted consumer saw the first batch again.
        await eventually(lambda: _ready(port), timeout=60)
        # Anything recorded twice would show after one more event has gone through.
        await produce(
            isolated["kafka_bootstrap_servers"], [encode(renamed(ada, 8), source="/x/y", topic_prefix=prefix)]
        )
        await eventually(lambda: _count_in(db, ada, 9), timeout=120, interval=0.5)
        rows = await db["audit_log"].find({"account_id": ada}).sort("seq", 1).to_list(None)
        assert [row["seq"] for row in rows] == list(range(1, 10))
        assert len({row["event_id"] for row in rows}) == 9
        verifier = ChainVerifier()
        async for record in AuditLog(db).records(ada):
            verifier.feed(record)
        assert verifier.result().ok
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
        await mongo.close()


async def _count_in(db: Any, account_id: str, expected: int) -> bool:
    return await db["audit_log"].count_documents({"account_id": account_id}) == expected


async def _ready(port: int) -> bool:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        try:
            return (await client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False


async def test_the_operators_command_verifies_and_exits_1_on_a_broken_chain(
    accounts: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The good chain through the command's own function in process, the broken one through
    `python -m` (its entry point and exit status): one interpreter start instead of two."""
    from docstore_accounts.audit import run
    from docstore_accounts.service_layer.audit import Delivered

    ada = f"acc-{uuid.uuid4().hex[:8]}"
    await accounts.services.audit.record_once(
        [
            Delivered(
                event_id=f"ev-{ada}-{n}",
                event_type="file.trashed",
                data=FileTrashed(account_id=ada, document_id=f"d{n}").model_dump(mode="json"),
                time=datetime.now(UTC),
                source="/docstore/us-west-2/metadata",
            )
            for n in range(3)
        ]
    )
    settings = accounts.settings
    env = {
        **os.environ,
        "ACCOUNTS_MONGODB_URL": settings.mongodb_url,
        "ACCOUNTS_MONGODB_DATABASE": settings.mongodb_database,
    }

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docstore_accounts.audit", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    monkeypatch.setenv("ACCOUNTS_MONGODB_URL", settings.mongodb_url)
    monkeypatch.setenv("ACCOUNTS_MONGODB_DATABASE", settings.mongodb_database)
    capsys.readouterr()
    assert await run(["verify", "--account", ada]) == 0
    good = capsys.readouterr().out
    assert '"ok": true' in good and '"checked": 3' in good
    await accounts.db["audit_log"].update_one({"account_id": ada, "seq": 2}, {"$set": {"outcome": "failure"}})
    bad = await asyncio.to_thread(command, "verify", "--all")
    assert bad.returncode == 1, bad.stderr
    assert f'"account_id": "{ada}"' in bad.stdout and '"broken_at": 2' in bad.stdout


async def test_the_audit_consumer_stops_even_when_the_shutdown_cancels_its_stop_again(
    accounts: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service's shutdown cancels its loops, and cancels again after a grace. On a loaded
    # machine the consumer's stop outlasted that grace, the second cancellation ended it midway,
    # and the consumer kept fetching (CI, 2026-11-27). Here the stop is held 0.5 s, past a grace of 0.1 s.
    made: list[BatchConsumer] = []
    make = AuditConsumer.consumer
    monkeypatch.setattr(AuditConsumer, "consumer", lambda self: made.append(make(self)) or made[-1])
    stop = BatchConsumer.stop

    async def slow_stop(self: BatchConsumer) -> None:
        await asyncio.sleep(0.5)
        await stop(self)

    monkeypatch.setattr(BatchConsumer, "stop", slow_stop)
    loop = asyncio.create_task(register_audit(accounts.services.runtime.events, accounts.services.audit).run())

    async def started() -> bool:
        return bool(made) and made[0]._task is not None

    await eventually(started, timeout=30)
    await stop_tasks([loop], grace=0.1)

    async def stopped() -> bool:
        return made[0]._task.done() and consumer_tasks(made[0].kafka) == []  # type: ignore[union-attr]

    await eventually(stopped, timeout=30)

"""Kill quota after its effect, before its offset commit; the restart must not count twice."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from docstore_events import UploadCompleted, encode
from docstore_kit.auth import InternalAuth
from docstore_quota.settings import Settings

pytestmark = pytest.mark.integration

SENTINEL = 10_000  # the size of an upload sent after the restart (see below)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_quota(isolated: dict[str, str], port: int, log: Path, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "QUOTA_KAFKA_BOOTSTRAP_SERVERS": isolated["kafka_bootstrap_servers"],
        "QUOTA_KAFKA_TOPIC_PREFIX": isolated["kafka_topic_prefix"],
        "QUOTA_MONGODB_URL": isolated["mongodb_url"],
        "QUOTA_MONGODB_DATABASE": isolated["mongodb_database"],
        "QUOTA_FREE_CAP_BYTES": "1000000",
        **extra_env,
    }
    args = [sys.executable, "-m", "uvicorn", "docstore_quota.main:app", "--factory", "--port", str(port)]
    return subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def produce(bootstrap: str, records) -> None:
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


async def usage_of(port: int, account_id: str) -> int | None:
    # As `upload` calls it: signed as a service with the development key every process shares.
    auth = InternalAuth.from_settings(Settings()).client_auth("quota")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=auth) as client:
        try:
            response = await client.get(f"/internal/accounts/{account_id}/room")
        except httpx.HTTPError:
            return None
        return response.json()["used_bytes"]


@pytest.mark.slow
async def test_killed_after_effect_before_commit_counts_each_upload_once(isolated, tmp_path: Path) -> None:
    account_id = f"acct-{uuid.uuid4().hex[:8]}"
    prefix = isolated["kafka_topic_prefix"]
    sizes = [100, 200, 300, 400]
    # Only uploads, so the first event handled (and the crash after it) is one that adds bytes.
    records = [
        encode(
            UploadCompleted(
                account_id=account_id,
                upload_id=f"up-{n}",
                document_id=f"doc-{n}",
                bucket="b",
                key=f"k{n}",
                filename="f.txt",
                content_type="text/plain",
                size=size,
                etag="e",
                sha256="s",
            ),
            source="test",
            topic_prefix=prefix,
        )
        for n, size in enumerate([*sizes, SENTINEL])
    ]
    sentinel = records.pop()
    await produce(isolated["kafka_bootstrap_servers"], records)

    marker = tmp_path / "crashed"
    port = free_port()
    log = tmp_path / "quota.log"
    first = start_quota(
        isolated, port, log, DOCSTORE_CRASH_AT="consumer.after_effect", DOCSTORE_CRASH_MARKER=str(marker)
    )
    try:
        exit_code = await asyncio.to_thread(first.wait, 180)  # only a failing run waits this long
    finally:
        first.kill()
    assert exit_code == 137 and marker.exists(), log.read_text()[-2000:]

    second = start_quota(
        isolated, port, log, DOCSTORE_CRASH_AT="consumer.after_effect", DOCSTORE_CRASH_MARKER=str(marker)
    )
    try:
        # One more upload, after the ones the first process handled: one partition is applied in
        # its order, so once it counts, the redelivered uploads before it were handled too. A
        # double count would then show as more than the sum: no guessed wait needed.
        await produce(isolated["kafka_bootstrap_servers"], [sentinel])
        deadline = asyncio.get_running_loop().time() + 180
        used = None
        while asyncio.get_running_loop().time() < deadline:
            used = await usage_of(port, account_id)
            if used is not None and used >= sum(sizes) + SENTINEL:
                break
            await asyncio.sleep(0.1)
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 30)
    assert used == sum(sizes) + SENTINEL, log.read_text()[-2000:]

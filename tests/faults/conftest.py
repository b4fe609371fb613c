"""One platform for the fault tests and the TLS tests: the very supervisor `scripts/up --tls` runs
(`python -m docstore_devplatform supervise --tls`), on free ports, one region, with the durable
broker (its default), as a child of this run. The fault tests kill its servers with SIGKILL and rely
on the supervisor alone to bring them back: no test restarts anything itself. test_tls.py runs the
key flows over its TLS afterwards, on the servers the supervisor brought back. (One start for both:
each started a platform of its own before, about 45 s of the systems' worker.)
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from docstore_devplatform import probes
from docstore_devplatform.e2e import PASSWORD, SYSTEM_ENV, TEST_CLIENT_LIMITS, User
from docstore_devplatform.procs import ManagedProcess
from docstore_devplatform.state import StateFile
from docstore_devplatform.testing import eventually

READY_TIMEOUT = 300.0  # a busy 2-core machine; the wait ends as soon as the state file says ready


@dataclass
class Platform:
    data_dir: Path
    supervisor: ManagedProcess

    def state(self) -> dict[str, Any]:
        return StateFile.read(self.data_dir) or {}

    @property
    def gateway(self) -> str:
        return self.state()["services"]["gateway"]

    @property
    def kafka_bootstrap(self) -> str:
        return self.state()["endpoints"]["kafka_bootstrap"]

    @property
    def ca_file(self) -> str:
        """The local CA that signed every server's certificate (trustme, `up --tls`)."""
        return str(self.state()["tls"]["ca_file"])

    def trusting(self) -> ssl.SSLContext:
        """What a client that trusts the local CA verifies with (`SSL_CERT_FILE=<ca>`, `curl --cacert`)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def pid(self, name: str) -> int:
        pids = self.state()["pids"]
        return (pids["servers"] | pids["services"])[name]

    def restarts(self, name: str) -> int:
        return self.state().get("restarts", {}).get(name, 0)

    def signal(self, name: str, signum: int) -> int:
        """Send `signum` to the process group of server or service `name` (each runs in its own
        session, as the supervisor starts it); return the pid."""
        pid = self.pid(name)
        os.killpg(pid, signum)
        return pid

    async def wait_restarted(self, name: str, old_pid: int, restarts_before: int, timeout: float = 90.0) -> None:
        """Until the supervisor says it restarted `name` and the new process runs."""

        async def restarted() -> bool:
            if not self.supervisor.alive():
                pytest.fail(f"the supervisor died\n{self.supervisor.describe_failure()}")
            state = self.state()
            pids = state["pids"]["servers"] | state["pids"]["services"]
            return (
                state.get("restarts", {}).get(name, 0) > restarts_before
                and pids.get(name) not in (None, old_pid)
                and name not in state.get("exited", {})
            )

        await eventually(restarted, timeout=timeout, what=f"the supervisor restarting {name}")


def _wait_ready(proc: ManagedProcess, data_dir: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        state = StateFile.read(data_dir) or {}
        if state.get("state") == "ready":
            return
        if state.get("state") == "failed" or not proc.alive():
            pytest.fail(f"platform failed: {state.get('error')}\n{proc.describe_failure()}")
        time.sleep(0.5)
    pytest.fail(f"platform not ready after {READY_TIMEOUT:.0f} s\n{proc.describe_failure()}")


# Package scope: stopped as soon as the run leaves this folder, so a worker that goes on to other
# files (`scripts/test --numprocesses 2`) does not keep a whole idle system running beside them;
# in one process it stops before the later folders run, instead of idling through them.
@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("faults-platform")
    argv = [
        sys.executable, "-m", "docstore_devplatform", "supervise", "--tls",
        "--data-dir", str(data_dir), "--ports", "auto", "--region-b", "",
    ]  # fmt: skip
    proc = ManagedProcess("faults-platform", argv, data_dir / "supervisor.log", env=os.environ | SYSTEM_ENV)
    proc.start()
    try:
        _wait_ready(proc, data_dir)
        yield Platform(data_dir, proc)
    finally:
        proc.stop(timeout=60)


@pytest_asyncio.fixture
async def api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.gateway, verify=platform.trusting(), timeout=40.0, limits=TEST_CLIENT_LIMITS
    ) as client:
        yield client


async def premium_user(api: httpx.AsyncClient) -> User:
    """A Premium account that quota and the indexer already know (so its uploads are counted and
    indexed). Full text needs Premium; an upload does not need a verified address."""
    username = f"fault-{uuid.uuid4().hex[:10]}"
    email = f"{username}@example.com"
    body = {"username": username, "email": email, "password": PASSWORD, "plan": "premium"}
    created = await api.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    login = await api.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    user = User(created.json()["account_id"], username, email, login.json()["token"])

    async def known() -> bool:
        usage = await api.get("/v1/usage", headers=user.auth)
        status = await api.get("/v1/search/status", headers=user.auth)
        return usage.status_code == 200 and usage.json()["plan"] == "premium" and status.status_code == 200

    await eventually(known, timeout=90, what="quota and the indexer knowing the Premium account")
    return user


@dataclass(frozen=True)
class Uploaded:
    document_id: str
    word: str
    size: int


async def try_upload(api: httpx.AsyncClient, user: User, index: int, tag: str) -> Uploaded | None:
    """Grant, POST to S3, complete; the upload if it answered "complete", else None (refused or
    failed while a server was down: the client would retry, and it is not counted)."""
    word = f"{tag}w{index}x"
    data = f"{word} {tag}common {'.' * (index * 7)}\n".encode()
    try:
        grant = await api.post(
            "/v1/uploads",
            headers=user.auth,
            json={"filename": f"{word}.txt", "size": len(data), "content_type": "text/plain"},
        )
        if grant.status_code != 201:
            return None
        form = grant.json()["form"]
        # Straight to S3 (an absolute URL) with the same client: it trusts the CA S3's certificate is from.
        posted = await api.post(form["url"], data=form["fields"], files={"file": (f"{word}.txt", data)}, timeout=30)
        if posted.status_code != 201:
            return None
        done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)
    except httpx.HTTPError:
        return None
    if done.status_code != 200 or done.json().get("status") != "completed":
        return None
    return Uploaded(done.json()["document_id"], word, len(data))


async def listed(api: httpx.AsyncClient, user: User) -> dict[str, int]:
    """document_id -> size of every document in the account's listing."""
    found: dict[str, int] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = await api.get("/v1/documents", params=params, headers=user.auth)
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {item["document_id"]: item["size"] for item in body["items"]}
        cursor = body.get("next_cursor")
        if not cursor:
            return found


async def assert_nothing_lost(
    api: httpx.AsyncClient, user: User, completed: list[Uploaded], tag: str, platform: Platform | None = None
) -> None:
    """Every upload that answered "complete" is listed, found by full text and counted once by
    quota; waits (with deadlines) for the events to arrive, with no manual step. With `platform`,
    a document full text never finds is explained (its catalog entry, the indexer's log)."""
    expected = {u.document_id for u in completed}

    async def all_listed() -> dict[str, int] | None:
        found = await listed(api, user)
        return found if expected <= set(found) else None

    try:
        found = await eventually(all_listed, timeout=120, what="every completed upload listed")
    except AssertionError:
        missing = expected - set(await listed(api, user))
        raise AssertionError(f"{len(missing)} of {len(expected)} completed uploads never listed") from None

    # An upload whose client saw it fail (S3 went down between its POST and its completion) may
    # still complete later, through the watcher or an S3 notification, and be listed then: the
    # counts are compared with the listing of the same moment, not the one taken above.
    seen: list[tuple[dict, int, int]] = []

    async def counted() -> dict | None:
        now = await listed(api, user)
        usage = (await api.get("/v1/usage", headers=user.auth)).json()
        seen.append((usage, len(now), sum(now.values())))
        return usage if (usage["used_bytes"], usage["documents"]) == (sum(now.values()), len(now)) else None

    try:
        await eventually(counted, timeout=60)
    except AssertionError:
        usage, documents, size = seen[-1]
        raise AssertionError(
            f"quota never counted the {documents} listed documents ({size} bytes) exactly once: "
            f"{usage}; {len(completed)} answered complete ({sum(u.size for u in completed)} bytes)"
        ) from None

    now: dict[str, int] = {}
    answer: dict[str, Any] = {}

    async def all_found() -> bool:
        now.clear()
        now.update(await listed(api, user))
        response = await api.get("/v1/search", params={"q": f"{tag}common", "limit": 100}, headers=user.auth)
        assert response.status_code == 200, response.text
        answer.update(response.json())
        ids = {item["document_id"] for item in answer["items"]}
        return bool(answer["found"] == len(now) and ids == set(now))

    try:
        await eventually(all_found, timeout=90, what="full text finding every listed document, and only those")
    except AssertionError as error:
        if platform is None:
            raise
        ids = {item["document_id"] for item in answer["items"]}
        raise AssertionError(f"{error}\n{full_text_report(platform, user, found, now, answer['found'], ids)}") from None
    for upload in completed[:: max(1, len(completed) // 8)]:  # a few by their own word
        hits = (await api.get("/v1/search", params={"q": upload.word}, headers=user.auth)).json()["items"]
        assert [hit["document_id"] for hit in hits] == [upload.document_id], upload


CATALOG_FIELDS = ["upload_id", "indexed_upload_id", "index_due", "index_status", "index_reason", "deleted_at"]
WORKER_EVENTS = ("indexing_error", "indexed_batch", "document_index_failed", "upload_not_indexed")
# Where the events can stop on their way to the catalog: metadata's relay (file.version-recorded)
# and the indexer's consumer, and what aiokafka says when a broker's answer surprises it.
PATH_EVENTS = {
    "metadata": ("outbox_publish", "event_poll_failed", "event_consumer_died", "Unexpected"),
    "indexer": ("event_poll_failed", "event_consumer_died", "event_batch", "Unexpected", "Heartbeat failed"),
}


def full_text_report(
    platform: Platform, user: User, found: dict[str, int], now: dict[str, int], count: int, hits: set[str]
) -> str:
    """Why full text and the listing disagree: the counts (listed when the check began, listed
    now, found by full text), the documents on one side only with their catalog entry in the
    indexer's MongoDB (due? failed, and why?), how many entries are due in all, the events
    metadata's outbox has not published, and the last log lines of the indexer's worker and of
    the relay and consumer on the way (CI on 4a0bc8c said only "no catalog entry")."""
    import pymongo  # only when a test failed

    state = platform.state()
    lines = [f"listed when the checks began {len(found)}, listed now {len(now)}, full text found {count}"]
    sides = {"listed, not found": sorted(set(now) - hits), "found, not listed": sorted(hits - set(now))}
    try:
        with pymongo.MongoClient(state["endpoints"]["mongo_url"], serverSelectionTimeoutMS=5000) as client:
            catalog = client[f"docstore_indexer_{state['region'].replace('-', '_')}"]["catalog"]
            for side, ids in sides.items():
                lines.append(f"{side}: {len(ids)}")
                for document_id in ids:
                    doc = catalog.find_one({"_id": f"{user.account_id}:{document_id}"}, projection=CATALOG_FIELDS)
                    lines.append(f"  {document_id}: {doc or 'no catalog entry'}")
            lines.append(f"catalog entries due, all accounts: {catalog.count_documents({'index_due': True})}")
            outbox = client[f"docstore_metadata_{state['region'].replace('-', '_')}"]["outbox"]
            lines.append(
                f"metadata's outbox, events not yet published: {outbox.count_documents({'status': 'pending'})}"
            )
    except pymongo.errors.PyMongoError as error:
        lines.append(f"the catalog could not be read: {error!r}")
    logs = Path(state.get("logs") or platform.data_dir / "logs")
    for service, events in [("indexer", WORKER_EVENTS), *PATH_EVENTS.items()]:
        log = logs / f"{service}.log"
        if log.exists():
            found = [line for line in log.read_text(errors="replace").splitlines() if any(e in line for e in events)]
            lines += [f"{service}, last lines of {', '.join(events)}:", *(f"  {line[:300]}" for line in found[-15:])]
    return "\n".join(lines)


async def broker_answers(platform: Platform) -> None:
    await eventually(
        lambda: asyncio.to_thread(_metadata_ok, platform.kafka_bootstrap), timeout=60, what="the broker answering"
    )


def _metadata_ok(bootstrap: str) -> bool:
    try:
        probes.check_kafka(bootstrap)
    except Exception:  # noqa: BLE001 - not up yet
        return False
    return True


__all__ = ["Platform", "Uploaded", "assert_nothing_lost", "broker_answers", "listed", "premium_user", "try_upload"]

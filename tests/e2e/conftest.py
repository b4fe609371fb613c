"""The whole system as processes (every service, one region) on the run's real servers."""

from __future__ import annotations

from docstore_devplatform.testing import eventually  # noqa: F401  (shared by the tests here)

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

# A tiny Free cap so a test can push an account over it with a few small files.
FREE_CAP_BYTES = 1_000_000
PASSWORD = "correct horse battery staple"
SYSTEM_ENV = {
    "QUOTA_FREE_CAP_BYTES": str(FREE_CAP_BYTES),
    "UPLOAD_WATCH_INTERVAL_SECONDS": "0.5",  # the upload watcher looks often, so tests need not wait
    "UPLOAD_MULTIPART_PART_BYTES": str(5 * 1024 * 1024),  # S3's smallest part: small files still get several
    "METADATA_FREE_VERSION_CAP": "3",  # retention is reached after a few versions
    "METADATA_ADMIN_USERNAMES": "admin-e2e",  # the operator dashboard's account
    "NOTIFY_COALESCE_WINDOW_SECONDS": "25",  # ten quick versions in the follow test fall into one window
    "NOTIFY_SWEEP_INTERVAL_SECONDS": "0.5",
}


@dataclass
class System:
    urls: dict[str, str]
    processes: object  # docstore_devplatform.services.ServiceProcesses
    logs: Path

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]


@pytest.fixture(scope="session")
def system(endpoints, test_data_dir: Path) -> Iterator[System]:
    from docstore_devplatform.services import ServiceProcesses

    processes = ServiceProcesses(endpoints, test_data_dir / "system", ports="auto", extra_env=SYSTEM_ENV)
    try:
        urls = processes.start()
        yield System(urls=urls, processes=processes, logs=test_data_dir / "system" / "logs")
    finally:
        processes.stop()


@pytest_asyncio.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as client:
        yield client


@dataclass
class User:
    account_id: str
    username: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(api: httpx.AsyncClient, plan: str = "free") -> User:
    username = f"user-{uuid.uuid4().hex[:10]}"
    email = f"{username}@example.com"
    created = await api.post("/v1/accounts", json={"username": username, "email": email, "password": PASSWORD, "plan": plan})
    assert created.status_code == 201, created.text
    login = await api.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return User(created.json()["account_id"], username, email, login.json()["token"])


async def upload(api: httpx.AsyncClient, user: User, name: str, data: bytes, content_type: str = "text/plain") -> dict:
    """Grant, POST straight to S3 with the signed form, complete. Returns the completion body."""
    grant = await api.post("/v1/uploads", headers=user.auth,
                           json={"filename": name, "size": len(data), "content_type": content_type})
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)})
    assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)
    assert done.status_code == 200, done.text
    return done.json() | {"form_url": form["url"]}



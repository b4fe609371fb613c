"""Fixtures of the security suite. The running system (`system`, `region_b`, `api`) is the one
docstore_devplatform.e2e starts for e2e too; what is here are the accounts and objects attacks aim at."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from docstore_devplatform import probes
from docstore_devplatform.e2e import FREE_CAP_BYTES, REGION_A, SYSTEM_ENV, User, sign_up, upload
from docstore_devplatform.testing import TEST_TOPIC_PARTITIONS, eventually


@dataclass
class Victim:
    """An account with something worth stealing: a document with two versions (named with a
    unique marker), a pending upload, a share, a follow and a notification."""

    gateway: str
    owner: User
    grantee: User
    document_id: str
    name: str
    sha256: str
    pending_upload_id: str
    completed_upload_id: str
    link_id: str = ""
    """A public share link of the owner's on the document (its token is not kept)."""
    folder_id: str = ""
    folder_path: str = ""
    """An (empty) folder of the owner's, named with the marker (issue 37)."""
    app_password_id: str = ""
    """An app password of the owner's (issue 36)."""
    app_password: str = ""
    """That app password itself: a secret no answer to anyone else may carry; only the internal
    verify route's own test sends it (tests/security/test_service_identity.py)."""

    def secrets(self) -> list[str]:
        """Strings that must never appear in an answer to anyone else."""
        secrets = [self.document_id, self.name, self.owner.email, self.sha256, self.pending_upload_id]
        return secrets + [s for s in (self.folder_id, self.folder_path, self.app_password) if s]


async def make_victim(gateway: str) -> Victim:
    """Builds a `Victim` through `gateway`'s public API and waits until all of it is visible."""
    async with httpx.AsyncClient(base_url=gateway, timeout=40.0) as api:
        owner, grantee = await sign_up(api), await sign_up(api)
        name = f"victim-{uuid.uuid4().hex[:12]}.txt"
        # 81% of the Free cap: quota warns, so the owner has a notification too.
        first = await upload(api, owner, name, b"v" * (FREE_CAP_BYTES * 81 // 100))
        document_id = first["document_id"]

        async def at_version(n: int):
            found = await api.get(f"/v1/documents/{document_id}", headers=owner.auth)
            return found.json() if found.status_code == 200 and found.json()["version"] == n else None

        await eventually(lambda: at_version(1))
        grant = await api.post(
            "/v1/uploads",
            headers=owner.auth,
            json={
                "filename": name,
                "size": 7,
                "content_type": "text/plain",
                "document_id": document_id,
                "base_version": 1,
            },
        )
        assert grant.status_code == 201, grant.text
        async with httpx.AsyncClient(verify=probes.verify_tls()) as s3:
            form = grant.json()["form"]
            assert (
                await s3.post(form["url"], data=form["fields"], files={"file": (name, b"second!", "text/plain")})
            ).status_code == 201
        second = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=owner.auth)
        assert second.status_code == 200, second.text
        current = await eventually(lambda: at_version(2))
        pending = await api.post(
            "/v1/uploads", headers=owner.auth, json={"filename": "pending.txt", "size": 3, "content_type": "text/plain"}
        )
        assert pending.status_code == 201, pending.text
        shared = await api.post(
            f"/v1/documents/{document_id}/shares",
            headers=owner.auth,
            json={"username": grantee.username, "permission": "view"},
        )
        assert shared.status_code == 201, shared.text
        followed = await api.put(f"/v1/documents/{document_id}/follow", headers=owner.auth)
        assert followed.status_code in (200, 201, 204), followed.text

        async def notified():
            listed = await api.get("/v1/notifications", headers=owner.auth)
            return listed.status_code == 200 and listed.json()["items"]

        await eventually(notified, timeout=60)
        link = await api.post(f"/v1/documents/{document_id}/links", headers=owner.auth, json={"note": name})
        assert link.status_code == 201, link.text
        folder = await api.post("/v1/folders", headers=owner.auth, json={"parent": "/", "name": name + "-folder"})
        assert folder.status_code == 201, folder.text
        app_password = await api.post("/v1/account/app-passwords", headers=owner.auth, json={"name": "sync"})
        assert app_password.status_code == 201, app_password.text
        return Victim(
            gateway,
            owner,
            grantee,
            document_id,
            name,
            current["sha256"],
            pending.json()["upload_id"],
            second.json()["upload_id"],
            link.json()["id"],
            folder.json()["folder_id"],
            folder.json()["path"],
            app_password.json()["app_password_id"],
            app_password.json()["password"],
        )


@pytest_asyncio.fixture(scope="session")
async def victim_a(system) -> Victim:
    """A victim in region A."""
    return await make_victim(system.gateway)


@pytest_asyncio.fixture(scope="session")
async def victim_b(region_b) -> Victim:
    """A victim in region B."""
    return await make_victim(region_b.gateway)


async def new_user(gateway: str, plan: str = "free") -> User:
    """A fresh account signed up (and logged in) at `gateway`."""
    async with httpx.AsyncClient(base_url=gateway, timeout=40.0) as api:
        return await sign_up(api, plan)


LOGIN_FAILURES = 2  # as low as still proves counting: each try costs an argon2 verification
SIGN_UPS = 2  # each sign-up costs an argon2 hash and an account
# The spoofing tests send from 127.0.0.1, the address uvicorn's default trusted: on main, a new
# X-Forwarded-For each time was a new client. Other peers are other loopback addresses
# (all of 127/8 is this machine), each with counters of its own.
LINK_TRIES_PER_ADDRESS = 3
LINK_TRIES_PER_LINK = 6
TRUSTED_PROXY = "127.0.0.3"
# The gateway's throttle settings (services/gateway/src/docstore_gateway/settings.py), low.
# The address limit on logins stays high so that only the per-username one is tested.
THROTTLE_ENV = {
    "GATEWAY_LOGIN_LIMITS_PER_USERNAME": f"{LOGIN_FAILURES}/hour",
    "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "10000/minute",
    "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": f"{SIGN_UPS}/hour",
    "GATEWAY_LINK_PASSWORD_LIMITS": f"{LINK_TRIES_PER_ADDRESS}/hour",
    "GATEWAY_LINK_PASSWORD_LIMITS_PER_LINK": f"{LINK_TRIES_PER_LINK}/hour",
    # A proxy of the tests' own: only its X-Forwarded-For is believed.
    "GATEWAY_TRUSTED_PROXIES": TRUSTED_PROXY,
    "GATEWAY_RATE_LIMIT_STORAGE": "memory://",  # counters of this process only
}
UPSTREAMS = ("accounts", "metadata", "links", "upload", "quota", "indexer", "notify")


@pytest.fixture(scope="session")
def throttled_gateway(endpoints, test_data_dir: Path, system) -> Iterator[str]:
    """A gateway process of its own with low limits (`THROTTLE_ENV`), in front of region A's
    services: one for the session, shared by test_throttling and test_sessions_mfa (each test
    counts on usernames, accounts and loopback addresses of its own)."""
    from docstore_devplatform import probes
    from docstore_devplatform.services import ServiceProcesses
    from docstore_events.topics import all_topics

    database = f"throttle_{uuid.uuid4().hex[:8]}"
    # Topics of its own: the gateway consumes account.sessions-revoked in the group "<prefix>gateway",
    # and a second member of the shared gateway's group would take some of its events away.
    prefix = f"{database}."
    probes.create_topics(endpoints.kafka_bootstrap, all_topics(prefix), TEST_TOPIC_PARTITIONS)
    env = (
        SYSTEM_ENV
        | {f"{name.upper()}_URL": system.urls[name] for name in UPSTREAMS}
        | THROTTLE_ENV
        | {
            "GATEWAY_MONGODB_DATABASE": database,
            "GATEWAY_KAFKA_TOPIC_PREFIX": prefix,
        }
    )
    processes = ServiceProcesses(
        endpoints, test_data_dir / "throttled-gateway", region=REGION_A, names=("gateway",), extra_env=env
    )
    try:
        yield processes.start()["gateway"]
    finally:
        processes.stop()

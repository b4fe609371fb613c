"""The whole system as processes, with the gateway serving web/, and a real headless Chromium.

Same pattern as tests/e2e/conftest.py (every service a uvicorn process on the run's real
servers), on a topic prefix, databases and search collection of its own, so it can run beside
the e2e system in one pytest run without sharing consumer groups or data.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from docstore_devplatform import probes
from docstore_devplatform.e2e import TEST_PASSWORD_ENV, TEST_SYSTEM_KAFKA_ENV
from docstore_devplatform.testing import TEST_TOPIC_PARTITIONS
from docstore_events.topics import all_topics
from docstore_kit.http_transport import sync_client

from .webdriver import Browser, WebDriverError, browser_available

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
PREFIX = "browser."
FREE_CAP_BYTES = 1_000_000  # small, so a Free account reaches the warning levels with one file
PART_BYTES = 5 * 1024 * 1024  # S3's smallest part: a 12 MB file goes up in three parts
ADMIN_USERNAME = f"admin-{uuid.uuid4().hex[:8]}"
# Each test file that needs an administrator signs up its own, so none depends on another running first.
QUALITY_ADMIN_USERNAME = f"qadmin-{uuid.uuid4().hex[:8]}"
BEHAVIOUR_ADMIN_USERNAME = f"badmin-{uuid.uuid4().hex[:8]}"
ANALYTICS_ADMIN_USERNAME = f"aadmin-{uuid.uuid4().hex[:8]}"
NODE_MODULES = REPO / ".tools" / "node" / "node_modules"  # axe-core and lighthouse, installed by scripts/bootstrap
SERVICES = ("metadata", "upload", "quota", "indexer", "notify", "analytics", "accounts", "gateway")


@dataclass
class WebSystem:
    urls: dict[str, str]
    processes: object  # docstore_devplatform.services.ServiceProcesses
    logs: Path
    bucket: str

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]


def system_env() -> dict[str, str]:
    env = {
        "KAFKA_TOPIC_PREFIX": PREFIX,
        "INDEXER_TYPESENSE_COLLECTION": "browser_documents",
        "QUOTA_FREE_CAP_BYTES": str(FREE_CAP_BYTES),
        "UPLOAD_MULTIPART_PART_BYTES": str(PART_BYTES),
        "ACCOUNTS_ADMIN_USERNAMES": f"{ADMIN_USERNAME},{QUALITY_ADMIN_USERNAME},{BEHAVIOUR_ADMIN_USERNAME},{ANALYTICS_ADMIN_USERNAME}",
        "GATEWAY_WEB_DIR": str(REPO / "web"),
        # The browser tests sign up many accounts from 127.0.0.1: no throttling here.
        "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": "100000/minute",
        "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "100000/minute",
        "GATEWAY_LOGIN_LIMITS_PER_USERNAME": "10000/minute",
        "GATEWAY_PASSWORD_RESET_LIMITS_PER_ADDRESS": "100000/minute",
        **TEST_SYSTEM_KAFKA_ENV,
        **TEST_PASSWORD_ENV,
    }
    env |= {f"{name.upper()}_MONGODB_DATABASE": f"browser_{name}" for name in SERVICES}
    return env


# Package scope: stopped as soon as the run leaves this folder, so a worker that goes on to other
# files (`scripts/test --numprocesses 2`) does not keep a whole idle system running beside them;
# in one process it stops before the later folders run, instead of idling through them.
@pytest.fixture(scope="package")
def web_system(endpoints, test_data_dir: Path) -> Iterator[WebSystem]:
    reason = browser_available()
    if reason:
        pytest.skip(reason)
    from docstore_devplatform import oidc
    from docstore_devplatform.ports import free_ports
    from docstore_devplatform.services import SERVICES as ALL_SERVICES
    from docstore_devplatform.services import ServiceProcesses, bucket_for

    probes.create_topics(endpoints.kafka_bootstrap, all_topics(PREFIX), TEST_TOPIC_PARTITIONS)
    # The platform's OpenID provider (issue 36), its client redirecting to this system's gateway.
    ports = dict(zip(ALL_SERVICES, free_ports(len(ALL_SERVICES)), strict=True))
    provider = None
    env = system_env()
    if oidc.installed():
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        provider = oidc.OidcProvider(test_data_dir / "web-system", free_ports(1)[0], oidc.callback_urls([gateway]))
        provider.launch()
        env |= provider.service_env()
    processes = ServiceProcesses(endpoints, test_data_dir / "web-system", ports=ports, extra_env=env)
    try:
        urls = processes.start()
        if provider:
            provider.wait_ready()
        yield WebSystem(
            urls=urls,
            processes=processes,
            logs=test_data_dir / "web-system" / "logs",
            bucket=bucket_for(processes.region),
        )
    finally:
        processes.stop()
        if provider:
            provider.stop()


@pytest.fixture(scope="package")
def shared_chromium() -> Iterator[list[Browser]]:
    """The Chromium this package's tests take turns with: a list, so `browser` can replace it."""
    held: list[Browser] = []
    try:
        yield held
    finally:
        for chromium in held:
            chromium.close()


@pytest.fixture
def browser(web_system: WebSystem, shared_chromium: list[Browser]) -> Browser:
    """A headless Chromium as a new one is: the package's one, reset, instead of one started for
    each of 45 tests (tests/browser/README.md has the figures)."""
    return reset_shared(shared_chromium)


def reset_shared(shared_chromium: list[Browser]) -> Browser:
    """The package's Chromium, reset (`Browser.reset`) to what a new one shows, for a test or a
    module's setup; a new one when the last user left it past resetting (a crash, a dialog left
    open)."""
    if shared_chromium:
        try:
            shared_chromium[0].reset()
            return shared_chromium[0]
        except WebDriverError:
            with contextlib.suppress(WebDriverError):
                shared_chromium.pop().close()
    shared_chromium[:] = [Browser(SCREENSHOTS)]
    return shared_chromium[0]


@pytest.fixture
def s3(endpoints):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
        region_name="us-west-2",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def api_sign_up(gateway: str, username: str, plan: str = "free") -> str:
    """Sign up through the API (for accounts a test only needs to exist); returns a token."""
    with sync_client(base_url=gateway, timeout=30) as client:
        created = client.post(
            "/v1/accounts",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD, "plan": plan},
        )
        assert created.status_code == 201, created.text
        verify_by_mail(gateway, f"{username}@example.com")
        login = client.post("/v1/sessions", json={"username": username, "password": PASSWORD})
        assert login.status_code == 201, login.text
        return login.json()["token"]


def verify_by_mail(gateway: str, address: str, timeout: float = 120.0) -> None:
    """Follow the verification mail of a sign-up (read from the SES stand-in, moto): an unverified
    account may not share or make public links (issue 20)."""
    import asyncio

    from docstore_devplatform.e2e import mail_links, token_of

    deadline = time.monotonic() + timeout
    while not (links := asyncio.run(mail_links(address, "Verify your DocStore e-mail address"))):
        assert time.monotonic() < deadline, f"no verification mail to {address}"
        time.sleep(0.5)
    with sync_client(base_url=gateway, timeout=30) as client:
        verified = client.post("/v1/account/email/verify", json={"token": token_of(links[-1])})
        assert verified.status_code == 200, verified.text

"""The whole system as processes on the run's real servers, shared by tests/e2e and
tests/security so one pytest run starts it once: region A (`system`) and, for the tests that
ask for it, region B (`region_b`: its own services, databases, bucket and topics under
`ap-southeast-2.`, on the same servers), plus the plain helpers the tests use (`sign_up`,
`upload`, `User`, ...).

With ``DOCSTORE_E2E_TLS=1`` (`scripts/test` runs the whole suite so) both regions'
gateways serve HTTPS with a certificate from a local `trustme` CA, as ``scripts/up --tls`` does
(docstore_devplatform.tls), and this run's clients trust that CA only (``SSL_CERT_FILE``, which
httpx and Python's ssl read): every test that talks to a gateway does so over TLS, and one that
forgot would fail rather than fall back to plain text. The servers stay as the run's
`endpoints` started them (their TLS mode is tests/faults': the fault tests and test_tls.py share
`up --tls`'s own supervisor).

The fixtures are registered once per run by the test plugin (docstore_devplatform.pytest_plugin,
which lists this module in its `pytest_plugins`), and by no conftest: a second import would give
that folder a second, separate system.
(This lives in a package rather than in tests/conftest.py because the services' own `tests`
packages would clash with a top-level `tests` module.)
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import os
import re
import secrets
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from docstore_devplatform.testing import (
    TEST_GROUP_MEMBERSHIP_ENV,
    TEST_TOPIC_PARTITIONS,
    eventually,  # noqa: F401  (shared by the tests here)
)
from docstore_devplatform.tls import LocalTLS, local_tls

#: The fetch wait of every consumer of a system the tests start, while events flow. The default
#: (20 ms, `kafka_fetch_max_wait_ms`) keeps one event's latency low on Tansu, which re-reads every
#: partition a waiting fetch asks for at its start and its end (and halfway through what is left
#: while that is 250 ms or more); a test system's consumers stay in that mode, since some test
#: keeps events flowing, and their fetches made Tansu the busiest process of the suite's system
#: phases. 240 ms is the longest wait Tansu reads only twice for: a consumer costs Tansu and
#: itself 0.49-0.57x what it does at 100 ms, for one record's hop 12 ms later at the median, 49 at
#: p90 and 67 at most (bench/broker_reads.py, 2026-11-28). It also carries the test systems' group
#: membership (`TEST_GROUP_MEMBERSHIP_ENV`: quick joins).
TEST_SYSTEM_KAFKA_ENV = {"KAFKA_FETCH_MAX_WAIT_MS": "240", **TEST_GROUP_MEMBERSHIP_ENV}
#: Passwords of every system the tests start are hashed with argon2-cffi's test profile: each
#: sign-up and login cost accounts two argon2id runs of about 0.2 CPU-seconds each at the standard
#: cost, and the suite signs up hundreds of accounts. The standard cost, and its refusal of the
#: test profile outside development, are proven by the accounts and kit unit tests.
TEST_PASSWORD_ENV = {"PASSWORD_HASH_COST": "test-only-cheapest"}
# A tiny Free cap so a test can push an account over it with a few small files.
FREE_CAP_BYTES = 1_000_000
PASSWORD = "correct horse battery staple"
SYSTEM_ENV = {
    "QUOTA_FREE_CAP_BYTES": str(FREE_CAP_BYTES),
    # The upload watcher and notify's sweeper look every 2 s (10 s in production), so the few tests
    # that wait on them (an upload nobody reported, an expired grant, a coalesced mail) wait at
    # most 2 s more. At 0.5 s these polls and replication's sent 41 database commands a second
    # while the system was idle (both regions), 24.5 now; its CPU 0.29-0.34 cores, 0.27-0.29 now
    # (`bench/idle.py --broker-storage memory --test-settings`, 2026-11-28).
    "UPLOAD_WATCH_INTERVAL_SECONDS": "2",
    "UPLOAD_MULTIPART_PART_BYTES": str(5 * 1024 * 1024),  # S3's smallest part: small files still get several
    "METADATA_FREE_VERSION_CAP": "3",  # retention is reached after a few versions
    # A deleted account's documents are purged soon after their time comes (tests move it forward).
    "METADATA_ACCOUNT_PURGE_INTERVAL_SECONDS": "2",
    # Ten quick versions in the follow test fold into one or a few mails (it accepts either); the
    # window is how long that test waits for its mail (it was 25 s, on the suite's longest chain).
    "NOTIFY_COALESCE_WINDOW_SECONDS": "10",
    "NOTIFY_SWEEP_INTERVAL_SECONDS": "2",
    # A peer region that is down is retried at least every second, so tests see it catch up quickly
    # (the relay is woken by each write it queues; its 1 s poll picks up the retries).
    "ACCOUNTS_REPLICATION_RETRY_MAX_SECONDS": "1",
    # Every test signs up and logs in from 127.0.0.1: the shared gateways' throttles sit far above
    # what a whole run does (tests/security/test_throttling.py runs a gateway of its own with low ones).
    "GATEWAY_SIGNUP_LIMITS_PER_ADDRESS": "100000/minute",
    "GATEWAY_LOGIN_LIMITS_PER_ADDRESS": "100000/minute",
    "GATEWAY_LOGIN_LIMITS_PER_USERNAME": "10000/minute",
    "GATEWAY_PASSWORD_RESET_LIMITS_PER_ADDRESS": "100000/minute",
    # Long polls: every test's client is at 127.0.0.1, so only the cap per account applies
    # (tests/security/test_held_requests.py proves it at the default, 6).
    "GATEWAY_HELD_REQUESTS_PER_ADDRESS": "10000",
    # Suites keep a session-scoped user's bearer token for a whole run, longer than the 15-minute
    # default access token; tests of refreshing spend refresh cookies and never wait for expiry.
    "GATEWAY_ACCESS_TTL_SECONDS": "86400",
    # Spans are recorded only for a request that arrives sampled (a W3C `traceparent` ending in
    # -01, as tests/e2e/test_tracing.py sends) and what it causes, across Kafka too; every other
    # request, event and loop round gets a trace id (logs and events carry it) but no recorded
    # span. Recording and exporting every span cost CPU in each service, and in the pytest worker
    # that holds the OTLP receiver (one HTTP connection and thread per export).
    "OTEL_TRACES_SAMPLER": "parentbased_always_off",
    **TEST_SYSTEM_KAFKA_ENV,
    **TEST_PASSWORD_ENV,
}
ADMIN_USERNAME = "admin-e2e"
"""The operator dashboard's account of the e2e system: signed up when the system starts and made an
administrator by id with the operators' command (`provision_admin`), never by its name."""
REGION_A = "us-west-2"
REGION_B = "ap-southeast-2"
#: Set to 1 (or true/yes): the gateways serve HTTPS with a local trustme CA (see the module's doc).
E2E_TLS_ENV = "DOCSTORE_E2E_TLS"


def e2e_tls_requested(environ: dict[str, str] | None = None) -> bool:
    """Whether this run's e2e system serves HTTPS (``DOCSTORE_E2E_TLS``)."""
    value = (os.environ if environ is None else environ).get(E2E_TLS_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise pytest.UsageError(f"{E2E_TLS_ENV}={value!r}: expected 1 or 0")


@dataclass
class System:
    urls: dict[str, str]
    processes: object  # docstore_devplatform.services.ServiceProcesses
    logs: Path
    traces: Path | None = None
    """The JSON-lines file of every span both regions exported (docstore_devplatform.traces)."""
    otlp_endpoint: str = ""
    ca_file: str = ""
    """In TLS mode (``DOCSTORE_E2E_TLS``) the local CA that signed the gateway's certificate; else empty."""
    oidc_env: dict[str, str] | None = None
    """The accounts services' settings of the run's OpenID provider (docstore_devplatform.oidc);
    None when it is not installed (its tests skip)."""

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]


def e2e_tls(test_data_dir: Path) -> LocalTLS | None:
    """The run's local CA and gateway certificate (made once, in the run's folder) when
    ``DOCSTORE_E2E_TLS`` asks for HTTPS, else None. (A function, not a fixture: every fixture of
    this module is registered.)"""
    return local_tls(test_data_dir / "tls") if e2e_tls_requested() else None


@pytest.fixture(scope="session")
def region_urls() -> dict[str, dict[str, str]]:
    """Service URLs of both regions, chosen before either starts: each is told the other's
    (the gateways' ``https://`` in TLS mode)."""
    from docstore_devplatform.ports import free_ports
    from docstore_devplatform.services import SERVICES, service_urls

    tls = e2e_tls_requested()
    return {
        region: service_urls(dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)), tls=tls)
        for region in (REGION_A, REGION_B)
    }


def _ports(urls: dict[str, str]) -> dict[str, int]:
    return {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}


@pytest.fixture(scope="session")
def system(endpoints, test_data_dir: Path, region_urls) -> Iterator[System]:
    """Region A. Its accounts replicate to region B's URLs (retried while B is not running).
    Both regions export their spans to one local OTLP receiver (`System.traces`). In TLS mode
    (`e2e_tls`) this process trusts the local CA and nothing else (``SSL_CERT_FILE``) while the
    system runs."""
    from docstore_devplatform import oidc
    from docstore_devplatform.ports import free_ports
    from docstore_devplatform.services import ServiceProcesses, region_wiring
    from docstore_devplatform.traces import TRACES_FILE, TraceReceiver, otlp_env

    tls = e2e_tls(test_data_dir)
    # The OpenID provider (one Node.js process) comes up while the services do; both regions' gateways
    # are its client's redirect URIs.
    provider = None
    if oidc.installed():
        gateways = oidc.callback_urls(urls["gateway"] for urls in region_urls.values())
        provider = oidc.OidcProvider(test_data_dir / "system", free_ports(1)[0], gateways)
        provider.launch()
    saved_trust = os.environ.get("SSL_CERT_FILE")
    if tls:
        os.environ["SSL_CERT_FILE"] = str(tls.ca_file)  # httpx, Python's ssl (and so every test's client)
    receiver = TraceReceiver(test_data_dir / "system" / "logs" / TRACES_FILE).start()
    # Spans leave every 200 ms, so a test waiting for a trace is not held up by the 5 s default.
    env = SYSTEM_ENV | region_wiring(region_urls, REGION_A, primary=REGION_A)
    env |= otlp_env(receiver.endpoint, schedule_delay_ms=200)
    env |= provider.service_env() if provider else {}
    processes = ServiceProcesses(
        endpoints,
        test_data_dir / "system",
        region=REGION_A,
        ports=_ports(region_urls[REGION_A]),
        extra_env=env,
        tls=tls,
    )
    try:
        urls = processes.start()
        if provider:
            provider.wait_ready()
        provision_admin(urls["gateway"], processes)
        yield System(
            urls=urls,
            processes=processes,
            logs=test_data_dir / "system" / "logs",
            traces=receiver.path,
            otlp_endpoint=receiver.endpoint,
            ca_file=str(tls.ca_file) if tls else "",
            oidc_env=provider.service_env() if provider else None,
        )
    finally:
        processes.stop()
        if provider:
            provider.stop()
        receiver.stop()
        if tls:
            if saved_trust is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved_trust


def provision_admin(gateway: str, processes: Any, username: str = ADMIN_USERNAME) -> str:
    """Sign up `username` (password `PASSWORD`) at `gateway` unless it exists, then grant it the admin
    role by account with `python -m docstore_accounts.admins grant` (issue 33: admins are named by
    account id or by an operator, never by a configured name that sign-up would give away). The
    role reaches a session at its next login. Returns the command's JSON line."""
    with httpx.Client(base_url=gateway, timeout=40.0) as client:
        created = client.post(
            "/v1/accounts",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD, "plan": "free"},
        )
    assert created.status_code in (201, 409), created.text
    return str(processes.operator("docstore_accounts.admins", "grant", "--username", username))


@pytest.fixture(scope="session")
def region_b(endpoints, test_data_dir: Path, region_urls, system: System) -> Iterator[System]:
    """Region B on the same servers: its topics under `ap-southeast-2.`, bucket `docstore-ap-southeast-2`."""
    from docstore_devplatform import probes
    from docstore_devplatform.services import ServiceProcesses, bucket_for, region_wiring, topic_prefix_for
    from docstore_devplatform.traces import otlp_env
    from docstore_events.topics import all_topics

    probes.create_topics(
        endpoints.kafka_bootstrap, all_topics(topic_prefix_for(REGION_B, REGION_A)), TEST_TOPIC_PARTITIONS
    )
    s3 = probes.s3_client(endpoints.s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)
    probes.ensure_bucket(s3, bucket_for(REGION_B), ["*"])
    env = SYSTEM_ENV | region_wiring(region_urls, REGION_B, primary=REGION_A)
    if system.otlp_endpoint:
        env |= otlp_env(system.otlp_endpoint, schedule_delay_ms=200)
    env |= system.oidc_env or {}
    processes = ServiceProcesses(
        endpoints,
        test_data_dir / REGION_B,
        region=REGION_B,
        ports=_ports(region_urls[REGION_B]),
        extra_env=env,
        tls=e2e_tls(test_data_dir),
    )
    try:
        urls = processes.start()
        replicated_to(endpoints, REGION_B)
        yield System(urls=urls, processes=processes, logs=test_data_dir / REGION_B / "logs", ca_file=system.ca_file)
    finally:
        processes.stop()


def replicated_to(endpoints: Any, region: str, timeout: float = 180.0) -> None:
    """Wait until region A's accounts have no replica write queued for `region`. Region B starts
    with the first test that asks for it, and those tests run last on the shared system
    (`test_groups.shared_system_last`): every account signed up before is queued for it, and a
    test's own account would wait behind them."""
    from pymongo import MongoClient

    from docstore_devplatform.waiting import wait_until

    def drained() -> None:
        left = queue.count_documents({"target": region})
        if left:
            raise AssertionError(f"{left} replica writes still queued for {region}")

    with MongoClient(endpoints.mongo_url) as client:
        queue = client[f"docstore_accounts_{REGION_A.replace('-', '_')}"]["replication_outbox"]
        wait_until(drained, what=f"region A's replica writes for {region}", timeout=timeout, interval=0.5)


TEST_CLIENT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)
"""The pool of the tests' own clients of a gateway: idle connections dropped after 4 s, as
`docstore_kit.http_transport.default_limits` drops the services' (this package does not depend
on the kit). At httpx's 5 s, uvicorn's own keep-alive, a connection reused after about 5 s idle
can be closed by the server just as the request goes out (`RemoteProtocolError`, never answered)."""


@pytest_asyncio.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A client of region A's gateway; in TLS mode it trusts the local CA, named explicitly."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=system.ca_file) if system.ca_file else True
    async with httpx.AsyncClient(
        base_url=system.gateway, timeout=40.0, verify=verify, limits=TEST_CLIENT_LIMITS
    ) as client:
        yield client


async def sample_request(request: httpx.Request) -> None:
    """An httpx request hook (`client.event_hooks["request"].append(sample_request)`): a request
    without a `traceparent` gets a new sampled one. The test systems record the spans of sampled
    traces only (`OTEL_TRACES_SAMPLER` in `SYSTEM_ENV`); a test that reads spans samples its own
    requests."""
    request.headers.setdefault("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")


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
    created = await api.post(
        "/v1/accounts", json={"username": username, "email": email, "password": PASSWORD, "plan": plan}
    )
    assert created.status_code == 201, created.text
    await verify_email(api, email)
    login = await api.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return User(created.json()["account_id"], username, email, login.json()["token"])


#: The mails every account gets for signing up and signing in (issue 20); `mails_to` leaves them out
#: unless asked, so a test counts only the mails its own steps cause.
ACCOUNT_MAIL_SUBJECTS = frozenset({"Verify your DocStore e-mail address", "New sign-in to DocStore"})


async def mails_to(address: str, *, account_mails: bool = False) -> list[dict]:
    """Every mail the SES stand-in (moto) accepted for `address`, oldest first, as
    ``{"id", "subject", "text", "html", "body", "headers"}``: the plain and HTML parts, ``body``
    the text parts joined, ``headers`` the parsed message. notify sends raw MIME, which moto keeps
    under `ses.RawMessage` in `/moto-api/data.json`; a mail sent with plain `SendEmail` has no
    headers of its own (``headers`` None), so a test can tell. Sign-up and sign-in mails only with
    ``account_mails``. Read through `sent_mails` (one cheap count per poll, see `SentMail`)."""
    mails = await asyncio.to_thread(sent_mails, os.environ["AWS_ENDPOINT_URL_SES"], address)
    return [m for m in mails if account_mails or m["subject"] not in ACCOUNT_MAIL_SUBJECTS]


def sent_mails(endpoint: str, address: str) -> list[dict]:
    """`mails_to`'s mails for `address` from the moto at `endpoint`, account mails included."""
    return [dict(mail()) for to, _, mail in _moto_mail(endpoint).read() if to(address)]


#: One sent mail: whether an address is among its recipients, how many recipients it has, and the
#: mail itself (parsed on first call).
Sent = tuple[Callable[[str], bool], int, Callable[[], dict]]


class SentMail:
    """moto's sent mail, read cheaply. `/moto-api/data.json` dumps everything moto holds, so a poll
    of it grows with the run (0.15-0.86 s at 1,000-2,000 mails); SES's `GetSendStatistics` counts
    the recipients of every mail sent, in a few ms whatever was sent. Each `read` asks for that
    count (`count`) and fetches the dump (`dump`, its ``ses`` part) only when the count moved since
    the last dump it trusted. Each mail is parsed once, when a caller first asks for it.

    A dump is trusted only when its mails' recipients add up to exactly the count read before it.
    moto counts a mail *before* it stores it (`send_raw_email`: ``sent_message_count += ...``, then
    the `RawMessage`), so a dump taken in between lacks a counted mail; trusting a dump that held
    at most the count (2120f7b) kept that stale dump until another mail moved the count, and a
    sign-up's verification mail was then never seen. A dump with fewer recipients is fetched again
    at the next read. One with more (a mail sent and stored after the count was read, or one from a
    region not counted) is too; if a counted mail is missing from an equal dump, an uncounted one is
    in it, so the count has moved since and the next read fetches again."""

    def __init__(self, count: Callable[[], int], dump: Callable[[], dict]) -> None:
        self.count = count
        self.dump = dump
        self.counted: int | None = None
        self.mails: list[Sent] = []
        self.raw: dict[str, Sent] = {}
        self.lock = threading.Lock()

    def read(self) -> list[Sent]:
        with self.lock:
            counted = self.count()
            if counted != self.counted:
                ses = self.dump()
                self.raw = {row["id"]: self.raw.get(row["id"]) or _raw(row) for row in ses.get("RawMessage", [])}
                self.mails = [*self.raw.values(), *(_plain(row) for row in ses.get("Message", []))]
                held = sum(recipients for _, recipients, _ in self.mails)
                self.counted = counted if held == counted else None
            return self.mails


def _raw(row: dict) -> Sent:
    return row["destinations"].__contains__, len(row["destinations"]), functools.cache(lambda: _parse_raw(row))


def _parse_raw(row: dict) -> dict:
    message = email.message_from_string(row["raw_data"], policy=email.policy.default)
    parts = {p.get_content_subtype(): p.get_content() for p in message.walk() if p.get_content_maintype() == "text"}
    return {
        "id": row["id"],
        "subject": str(message["Subject"]),
        "text": parts.get("plain", ""),
        "html": parts.get("html", ""),
        "body": "\n".join(parts.values()),
        "headers": message,
    }


def _plain(row: dict) -> Sent:
    to = row["destinations"]["ToAddresses"]
    mail = {"id": row["id"], "subject": row["subject"], "text": row["body"], "html": "", "body": row["body"]}
    recipients = sum(len(row["destinations"].get(kind, [])) for kind in ("ToAddresses", "CcAddresses", "BccAddresses"))
    return (lambda address: any(address in a for a in to)), recipients, lambda: mail | {"headers": None}


@functools.cache
def _moto_mail(endpoint: str) -> SentMail:
    """The `SentMail` of the moto at `endpoint`: the count is `GetSendStatistics`' delivery attempts
    in the regions that send (both test regions and ``AWS_DEFAULT_REGION``); `GetSendQuota` would do
    too, but moto keeps every `SESQuota` it builds, so its polls would grow the dump."""
    import boto3

    from docstore_devplatform import probes

    regions = sorted({REGION_A, REGION_B, os.environ.get("AWS_DEFAULT_REGION", REGION_A)})
    clients = [boto3.client("ses", region_name=region, endpoint_url=endpoint) for region in regions]

    def count() -> int:
        return sum(c.get_send_statistics()["SendDataPoints"][0]["DeliveryAttempts"] for c in clients)

    def dump() -> dict:
        return httpx.get(f"{endpoint}/moto-api/data.json", timeout=20, verify=probes.verify_tls()).json().get("ses", {})

    return SentMail(count, dump)


async def mail_links(address: str, subject: str) -> list[str]:
    """The links with a token in every mail with `subject` sent to `address`, oldest first."""
    links = []
    for mail in await mails_to(address, account_mails=True):
        if mail["subject"] == subject:
            links.extend(re.findall(r"https?://\S+token=[A-Za-z0-9_-]+", mail["text"]))
    return links


def token_of(link: str) -> str:
    """The token a mailed link carries (in its fragment's query)."""
    return link.rsplit("token=", 1)[1]


async def verify_email(api: httpx.AsyncClient, address: str) -> None:
    """Follow the verification mail sent at sign-up (issue 20): an unverified account may not share."""
    links = await eventually(lambda: mail_links(address, "Verify your DocStore e-mail address"), timeout=120)
    verified = await api.post("/v1/account/email/verify", json={"token": token_of(links[-1])})
    assert verified.status_code == 200, verified.text


async def upload(api: httpx.AsyncClient, user: User, name: str, data: bytes, content_type: str = "text/plain") -> dict:
    """Grant, POST straight to S3 with the signed form, complete. Returns the completion body."""
    from docstore_devplatform import probes

    grant = await api.post(
        "/v1/uploads", headers=user.auth, json={"filename": name, "size": len(data), "content_type": content_type}
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    async with httpx.AsyncClient(verify=probes.verify_tls()) as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)})
    assert posted.status_code == 201, posted.text
    done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=user.auth)
    assert done.status_code == 200, done.text
    return done.json() | {"form_url": form["url"]}

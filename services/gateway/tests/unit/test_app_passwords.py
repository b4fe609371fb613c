"""App passwords at the edge (issue 36), on in-memory ports: reading HTTP Basic, what an app
password may reach (scope, account security), the short cache of metadata's answers and what
drops it (a revocation forwarded here, `account.app-password-revoked`), throttling of wrong
pairs, the home region's 307, and forwarding with the same identity as a bearer token."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from docstore_events.credentials import AccountAppPasswordRevoked
from docstore_gateway.domain.answers import (
    AppPasswordAccepted,
    AppPasswordAnswer,
    HomeElsewhere,
    Refused,
    UpstreamAnswer,
)
from docstore_gateway.domain.app_passwords import AppPasswordCaller, basic_credentials, cache_key, refusal
from docstore_gateway.domain.errors import (
    AccountElsewhere,
    AppPasswordNotAllowed,
    Throttled,
    Unauthenticated,
    WrongAppPassword,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller
from docstore_gateway.service_layer.app_passwords import AppPasswordChecks, AppPasswordRevocations
from docstore_gateway.service_layer.forwarding import Forwarding, Incoming
from docstore_gateway.service_layer.sessions import Authenticator

REGIONS = Regions("us-west-2", {"us-west-2": "https://a.example", "ap-southeast-2": "https://b.example"})
SECRET = "abcde-fghij-kmnpq-rstuv-wxyz2-34567"
ADA = AppPasswordCaller(account_id="acc-ada", role="user", app_password_id="apw_1", scope="webdav-sync")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass
class Metadata:
    """metadata's check, scripted: who each (username, password) is; counts the calls."""

    known: dict[tuple[str, str], AppPasswordAnswer] = field(default_factory=dict)
    calls: int = 0
    forwarded: list[tuple[str, str, Caller | None]] = field(default_factory=list)

    async def verify_app_password(self, username: str, password: str) -> AppPasswordAnswer:
        self.calls += 1
        return self.known.get((username, password), Refused())

    async def forward(self, service: str, method: str, path: str, **kwargs: Any) -> UpstreamAnswer:
        self.forwarded.append((method, path, kwargs["caller"]))
        return UpstreamAnswer(204 if method == "DELETE" else 200, b"{}", {})


@dataclass
class Throttle:
    limit: int = 3
    failures: dict[str, int] = field(default_factory=dict)
    attempts: int = 0

    async def app_password_attempt(self, username: str, address: str) -> int | None:
        self.attempts += 1
        return 60 if self.failures.get(username, 0) >= self.limit else None

    async def app_password_failed(self, username: str) -> None:
        self.failures[username] = self.failures.get(username, 0) + 1


@dataclass
class RevocationStore:
    after: dict[str, datetime] = field(default_factory=dict)

    async def app_passwords_revoked(self, account_id: str, moment: datetime) -> None:
        self.after[account_id] = max(moment, self.after.get(account_id, moment))

    async def app_passwords_revoked_at(self, account_id: str) -> datetime | None:
        return self.after.get(account_id)


def checks(metadata: Metadata, throttle: Throttle | None = None, store: RevocationStore | None = None, **kw: Any):
    return AppPasswordChecks(
        metadata,
        throttle or Throttle(),  # type: ignore[arg-type]
        AppPasswordRevocations(store or RevocationStore(), ttl_seconds=0),
        REGIONS,
        **kw,
    )


# --- the domain ---------------------------------------------------------------------------------


def test_basic_credentials_are_read_as_rfc_7617_says_and_anything_else_is_none() -> None:
    assert basic_credentials(basic("ada", SECRET)) == ("ada", SECRET)
    assert basic_credentials(basic("ada", "pass:with:colons")) == ("ada", "pass:with:colons")
    assert basic_credentials("basic " + base64.b64encode("zoë:pw".encode()).decode()) == ("zoë", "pw")
    for bad in (None, "", "Bearer x.y", "Basic", "Basic !!!", basic("ada", ""), basic("", "pw"), "Basic " + "A" * 4000):
        assert basic_credentials(bad) is None
    assert basic_credentials("Basic " + base64.b64encode(b"no-colon").decode()) is None


def test_the_cache_key_is_a_digest_that_never_holds_the_password() -> None:
    key = cache_key("Ada", SECRET)
    assert SECRET not in key and SECRET.replace("-", "") not in key and len(key) == 64
    assert key == cache_key(" ada ", SECRET) != cache_key("ada", SECRET + "x")


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("PUT", "/account/password"),
        ("POST", "/account/mfa/enrol"),
        ("DELETE", "/account/mfa"),
        ("PUT", "/account/email"),
        ("GET", "/account/app-passwords"),
        ("POST", "/account/app-passwords"),
        ("DELETE", "/account/app-passwords/{app_password_id}"),
        ("DELETE", "/account"),
        ("GET", "/account/security"),
        ("GET", "/admin/audit"),
    ],
)
def test_no_app_password_reaches_account_security_or_admin_routes(method: str, template: str) -> None:
    for scope in ("webdav-sync", "read-only"):
        assert isinstance(refusal(scope, method, template), AppPasswordNotAllowed)


def test_a_read_only_app_password_only_reads_and_a_sync_one_reads_and_writes() -> None:
    assert refusal("read-only", "GET", "/documents") is None
    assert refusal("read-only", "HEAD", "/documents/{document_id}") is None
    for method, template in [("POST", "/uploads"), ("PATCH", "/documents/{document_id}"), ("DELETE", "/documents/x")]:
        refused = refusal("read-only", method, template)
        assert refused is not None and refused.status == 403 and "read-only" in str(refused)
        assert refusal("webdav-sync", method, template) is None
    assert refusal("something-new", "GET", "/documents") is not None  # an unknown scope allows nothing


# --- the use case -------------------------------------------------------------------------------


async def test_an_accepted_pair_is_remembered_so_a_syncing_tool_costs_one_check() -> None:
    metadata = Metadata({("ada", SECRET): AppPasswordAccepted(ADA)})
    found = checks(metadata)
    for _ in range(20):
        assert await found.caller(basic("ada", SECRET), address="10.0.0.1", target="/v1/documents") == ADA
    assert metadata.calls == 1


async def test_a_wrong_pair_is_never_remembered_counted_and_throttled() -> None:
    metadata = Metadata({("ada", SECRET): AppPasswordAccepted(ADA)})
    throttle = Throttle(limit=3)
    found = checks(metadata, throttle)
    for _ in range(3):
        with pytest.raises(WrongAppPassword) as refused:
            await found.caller(basic("ada", "guess"), address="10.0.0.1", target="/v1/documents")
        assert refused.value.headers()["WWW-Authenticate"].startswith("Basic ")
    with pytest.raises(Throttled):  # over the limit: even the right one waits (no oracle)
        await found.caller(basic("ada", SECRET), address="10.0.0.1", target="/v1/documents")
    assert metadata.calls == 3


async def test_a_revocation_forwarded_here_drops_the_accounts_pairs_at_once() -> None:
    metadata = Metadata({("ada", SECRET): AppPasswordAccepted(ADA)})
    found = checks(metadata)
    await found.caller(basic("ada", SECRET), address="a", target="/v1/documents")
    found.forget_account("acc-ada")
    metadata.known.clear()  # metadata revoked it
    with pytest.raises(WrongAppPassword):
        await found.caller(basic("ada", SECRET), address="a", target="/v1/documents")


async def test_a_revocation_event_makes_every_replica_check_the_accounts_pairs_again() -> None:
    from docstore_gateway.service_layer.devices import Revocations

    metadata = Metadata({("ada", SECRET): AppPasswordAccepted(ADA)})
    store = RevocationStore()
    found = checks(metadata, store=store)
    await found.caller(basic("ada", SECRET), address="a", target="/v1/documents")

    # Another replica consumed the event: it stored the time in the shared store only.
    class Uow:
        async def run_once(self, *, consumer: str, event_id: str, work: Any) -> bool:
            class Tx:
                class repos:
                    devices = store

            await work(Tx)
            return True

    other = Revocations(Uow(), None, app_passwords=None)  # type: ignore[arg-type]
    await other.app_password_revoked("e1", AccountAppPasswordRevoked(account_id="acc-ada", app_id="apw_1"))
    metadata.known.clear()
    with pytest.raises(WrongAppPassword):
        await found.caller(basic("ada", SECRET), address="a", target="/v1/documents")
    assert metadata.calls == 2


async def test_an_account_at_home_in_another_region_is_sent_there() -> None:
    found = checks(Metadata({("bo", SECRET): HomeElsewhere("ap-southeast-2")}))
    with pytest.raises(AccountElsewhere) as elsewhere:
        await found.caller(basic("bo", SECRET), address="a", target="/v1/documents?x=1")
    assert elsewhere.value.headers()["Location"] == "https://b.example/v1/documents?x=1"


async def test_forwarding_sends_the_same_identity_as_for_a_bearer_token_within_the_scope() -> None:
    read_only = AppPasswordCaller(account_id="acc-ada", role="user", app_password_id="apw_2", scope="read-only")
    metadata = Metadata(
        {("ada", SECRET): AppPasswordAccepted(ADA), ("ada", "ro-" + SECRET): AppPasswordAccepted(read_only)}
    )
    found = checks(metadata)
    forwarding = Forwarding(
        metadata,  # type: ignore[arg-type]
        Authenticator(None, REGIONS),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        Throttle(),  # type: ignore[arg-type]
        max_body_bytes=1024,
        app_passwords=found,
    )

    def incoming(method: str, path: str, authorization: str) -> Incoming:
        async def body() -> bytes:
            return b""

        return Incoming(method, path.encode(), path, "", {"authorization": authorization}, body, "10.0.0.1")

    assert (await forwarding.forward(incoming("GET", "/v1/documents", basic("ada", SECRET)))).status == 200
    assert metadata.forwarded[-1] == ("GET", "documents", Caller("acc-ada", "user"))
    assert (await forwarding.forward(incoming("DELETE", "/v1/documents/d1", basic("ada", SECRET)))).status == 204
    with pytest.raises(AppPasswordNotAllowed):
        await forwarding.forward(incoming("DELETE", "/v1/documents/d1", basic("ada", "ro-" + SECRET)))
    with pytest.raises(AppPasswordNotAllowed):
        await forwarding.forward(incoming("PUT", "/v1/account/password", basic("ada", SECRET)))
    with pytest.raises(WrongAppPassword):
        await forwarding.forward(incoming("GET", "/v1/documents", basic("ada", "nope")))
    with pytest.raises(Unauthenticated):  # not Basic, not a bearer token: as before
        await forwarding.forward(incoming("GET", "/v1/documents", "Digest x"))
    assert len(metadata.forwarded) == 2

"""The gateway's use cases (service_layer/) on in-memory ports: logins, authentication and
forwarding, with every refusal and what it answers (status, body, headers)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gateway_fakes import MemoryRefreshTokens

from docstore_gateway.adapters.answers import credentials_answer
from docstore_gateway.api.errors import answer
from docstore_gateway.bootstrap import bootstrap
from docstore_gateway.domain.answers import CredentialsAnswer, UpstreamAnswer
from docstore_gateway.domain.errors import (
    AccountElsewhere,
    AccountsAnsweredUnexpectedly,
    AccountsUnavailable,
    AdminOnly,
    BadPath,
    BodyTooLarge,
    GatewayError,
    HomeNotConfigured,
    MethodNotAllowed,
    NoSuchRoute,
    SessionEnded,
    Throttled,
    Unauthenticated,
    UpstreamUnavailable,
    UsernameLost,
    WrongPassword,
)
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.sessions import Caller, Session
from docstore_gateway.service_layer.forwarding import Forwarding, Incoming
from docstore_gateway.service_layer.sessions import Authenticator, Logins
from docstore_gateway.settings import Settings
from docstore_kit.errors import PROBLEM_JSON, PROBLEM_TYPE_PREFIX

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
REGIONS = Regions("us-west-2", {"us-west-2": "https://a.example", "ap-southeast-2": "https://b.example"})


class MemorySessions(MemoryRefreshTokens):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Session] = {}
        self.reads = 0

    async def add(self, session: Session) -> None:
        self.rows[session.token] = session

    async def get(self, token: str) -> Session | None:
        self.reads += 1
        return self.rows.get(token)

    async def remove(self, token: str) -> None:
        self.rows.pop(token, None)

    async def remove_account(self, account_id: str) -> None:
        self.rows = {token: s for token, s in self.rows.items() if s.account_id != account_id}
        self.keep_refresh(lambda r: r.account_id != account_id)

    async def remove_family(self, family_id: str) -> None:
        if family_id:
            self.rows = {token: s for token, s in self.rows.items() if s.family_id != family_id}
            self.keep_refresh(lambda r: r.family_id != family_id)

    async def revoke_family(self, family_id: str, at: datetime) -> None:
        if family_id:
            self.rows = {t: replace(s, revoked=True) if s.family_id == family_id else s for t, s in self.rows.items()}
            self.revoke_refresh_family(family_id)


@dataclass
class ScriptedUpstreams:
    """Answers every call with `reply` (or raises UpstreamUnavailable when it is None); records calls."""

    reply: UpstreamAnswer | None = field(default_factory=lambda: UpstreamAnswer(200, b"{}"))
    calls: list[dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    """When set, every call waits for it (a long poll held open)."""

    async def verify_credentials(self, username: str, password: str) -> CredentialsAnswer:
        # The scripted HTTP answer, typed as the adapter types it (adapters/answers.py).
        return credentials_answer(
            await self.forward(
                "accounts", "POST", "internal/credentials/verify", query="", headers={}, body=b"", caller=None
            )
        )

    async def forward(
        self,
        service: str,
        method: str,
        path: str,
        *,
        query: str,
        headers: dict[str, str],
        body: bytes,
        caller: Caller | None,
        client_address: str | None = None,
        held: bool = False,
    ) -> UpstreamAnswer:
        self.calls.append(
            {
                "service": service,
                "method": method,
                "path": path,
                "query": query,
                "body": body,
                "caller": caller,
                "client_address": client_address,
                "held": held,
            }
        )
        if self.gate is not None:
            await self.gate.wait()
        if self.reply is None:
            raise UpstreamUnavailable(service)
        return self.reply


@dataclass
class CountingThrottle:
    login_wait: int | None = None
    signup_wait: int | None = None
    failures: list[str] = field(default_factory=list)

    async def login_attempt(self, username: str, address: str) -> int | None:
        return self.login_wait

    async def login_failed(self, username: str) -> None:
        self.failures.append(username)

    async def sign_up(self, address: str) -> int | None:
        return self.signup_wait

    async def password_reset(self, address: str) -> int | None:
        return self.signup_wait


def json_answer(status: int, body: Any) -> UpstreamAnswer:
    return UpstreamAnswer(status, json.dumps(body).encode(), {"content-type": "application/json"})


def answered(error: GatewayError) -> tuple[int, Any, dict[str, str]]:
    response = answer(error)
    extra = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
    body = json.loads(response.body)
    if response.status_code < 400:  # a redirect
        assert response.headers["content-type"] == "application/json"
        return response.status_code, body, extra
    # Every refusal is an RFC 9457 problem; the rest of the body is what each test states.
    assert response.headers["content-type"] == PROBLEM_JSON
    if isinstance(error, UsernameLost):  # the accounts service's own problem, as it put it
        return response.status_code, body, extra
    problem = {name: body.pop(name) for name in ("type", "title", "status")}
    assert problem == {"type": PROBLEM_TYPE_PREFIX + error.problem, "title": error.title, "status": error.status}
    return response.status_code, body, extra


@dataclass
class World:
    sessions: MemorySessions = field(default_factory=MemorySessions)
    upstreams: ScriptedUpstreams = field(default_factory=ScriptedUpstreams)
    throttle: CountingThrottle = field(default_factory=CountingThrottle)
    now: datetime = NOW

    @property
    def authenticator(self) -> Authenticator:
        return Authenticator(self.sessions, REGIONS, clock=lambda: self.now)

    @property
    def logins(self) -> Logins:
        return Logins(
            self.sessions,
            self.upstreams,
            self.throttle,
            self.authenticator,
            ttl=timedelta(days=7),
            access_ttl=timedelta(minutes=15),
            clock=lambda: self.now,
        )

    @property
    def forwarding(self) -> Forwarding:
        return Forwarding(self.upstreams, self.authenticator, self.sessions, self.throttle, max_body_bytes=10)

    async def session(self, account_id: str = "acc-1", role: str = "user", *, expires: datetime | None = None) -> str:
        token = f"us-west-2.token-of-{account_id}"
        await self.sessions.add(Session(token, account_id, role, NOW, expires or NOW + timedelta(days=1)))
        return token


@pytest.fixture
def world() -> World:
    return World()


# --- logging in and out ----------------------------------------------------------------------


async def test_a_login_issues_a_short_access_token_and_a_refresh_token_of_one_family(world: World) -> None:
    world.upstreams.reply = json_answer(200, {"account_id": "acc-1", "role": "admin"})
    issued = await world.logins.log_in("ada", "pw", address="10.0.0.1")
    session, refresh = issued.access, issued.refresh
    assert session.token.startswith("us-west-2.") and session.account_id == "acc-1" and session.role == "admin"
    assert session.expires_at == NOW + timedelta(minutes=15)
    assert refresh.token.startswith("us-west-2.") and refresh.token != session.token
    assert refresh.expires_at == NOW + timedelta(days=7) and refresh.used_at is None
    assert session.family_id and refresh.family_id == session.family_id
    assert world.sessions.rows == {session.token: session}
    assert world.sessions.refresh_rows == {refresh.token: refresh}
    assert world.upstreams.calls[0]["path"] == "internal/credentials/verify"


async def test_a_wrong_password_counts_toward_the_username_and_issues_nothing(world: World) -> None:
    world.upstreams.reply = json_answer(401, {"detail": "no"})
    with pytest.raises(WrongPassword) as refused:
        await world.logins.log_in("ada", "nope", address="10.0.0.1")
    assert world.throttle.failures == ["ada"] and world.sessions.rows == {}
    assert answered(refused.value) == (401, {"detail": "wrong username or password"}, {})


async def test_a_throttled_login_asks_nobody_and_says_when_to_come_back(world: World) -> None:
    world.throttle.login_wait = 42
    with pytest.raises(Throttled) as refused:
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    assert world.upstreams.calls == []
    assert answered(refused.value) == (
        429,
        {"detail": "too many login attempts for this account or from this address: try again in 42 seconds"},
        {"retry-after": "42"},
    )


async def test_a_login_at_a_replica_is_sent_home_with_its_query(world: World) -> None:
    world.upstreams.reply = json_answer(421, {"home_region": "ap-southeast-2"})
    with pytest.raises(AccountElsewhere) as home:
        await world.logins.log_in("ada", "pw", address="10.0.0.1", query="x=1")
    location = "https://b.example/v1/sessions?x=1"
    assert answered(home.value) == (
        307,
        {
            "detail": "this account's home is region ap-southeast-2: repeat the request at https://b.example",
            "home_region": "ap-southeast-2",
            "location": location,
        },
        {"location": location},
    )
    assert world.throttle.failures == []  # not a wrong password


async def test_a_home_region_without_a_gateway_is_a_502_naming_it(world: World) -> None:
    world.upstreams.reply = json_answer(421, {"home_region": "eu-west-1"})
    with pytest.raises(HomeNotConfigured) as refused:
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    assert answered(refused.value) == (
        502,
        {
            "detail": "this account's home is region eu-west-1, whose gateway is not configured here",
            "home_region": "eu-west-1",
        },
        {},
    )


async def test_a_lost_username_answers_the_accounts_services_own_body(world: World) -> None:
    body = {"detail": {"code": "username_conflict", "message": "taken elsewhere"}}
    world.upstreams.reply = json_answer(409, body)
    with pytest.raises(UsernameLost) as refused:
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    assert answered(refused.value) == (409, body, {})


async def test_accounts_that_do_not_answer_or_answer_oddly(world: World) -> None:
    world.upstreams.reply = None
    with pytest.raises(AccountsUnavailable) as unavailable:
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    assert answered(unavailable.value) == (
        503,
        {"detail": "accounts are unavailable; try again"},
        {"retry-after": "5"},
    )
    world.upstreams.reply = json_answer(500, {})  # accounts failing: the same, try again
    with pytest.raises(AccountsUnavailable):
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    world.upstreams.reply = json_answer(418, {})
    with pytest.raises(AccountsAnsweredUnexpectedly) as odd:
        await world.logins.log_in("ada", "pw", address="10.0.0.1")
    assert answered(odd.value) == (502, {"detail": "accounts answered unexpectedly"}, {})
    assert world.sessions.rows == {}


async def test_log_out_ends_only_the_callers_session(world: World) -> None:
    mine, theirs = await world.session("acc-1"), await world.session("acc-2")
    await world.logins.log_out(f"Bearer {mine}")
    assert set(world.sessions.rows) == {theirs}


# --- refreshing, reuse detection, logging out everywhere ---------------------------------------


async def log_in(world: World, account_id: str = "acc-1") -> tuple[str, str]:
    """A fresh login's access token and refresh token."""
    world.upstreams.reply = json_answer(200, {"account_id": account_id, "role": "user"})
    issued = await world.logins.log_in("ada", "pw", address="10.0.0.1")
    return issued.access.token, issued.refresh.token


async def test_a_refresh_spends_its_token_for_a_new_pair_of_the_same_family(world: World) -> None:
    access, refresh = await log_in(world)
    world.now = NOW + timedelta(minutes=20)  # the access token has expired
    with pytest.raises(Unauthenticated):
        await world.authenticator.caller(f"Bearer {access}", "/v1/documents")
    issued = await world.logins.refresh(refresh)
    assert issued.access.token not in (access, refresh) and issued.refresh.token != refresh
    assert issued.access.expires_at == world.now + timedelta(minutes=15)
    assert issued.refresh.expires_at == world.now + timedelta(days=7)  # a used session stays alive
    assert issued.refresh.family_id == world.sessions.refresh_rows[refresh].family_id
    assert world.sessions.refresh_rows[refresh].used_at == world.now
    _, caller = await world.authenticator.caller(f"Bearer {issued.access.token}", "/v1/documents")
    assert caller == Caller("acc-1", "user")
    again = await world.logins.refresh(issued.refresh.token)  # the new one works once too
    assert again.access.family_id == issued.access.family_id


async def test_reusing_a_spent_refresh_token_revokes_its_family_and_nothing_else(world: World) -> None:
    _, stolen = await log_in(world)
    other_access, other_refresh = await log_in(world)  # another device of the same account
    legit = await world.logins.refresh(stolen)
    with pytest.raises(SessionEnded) as refused:
        await world.logins.refresh(stolen)  # the thief (or the victim) presents the old copy
    assert answered(refused.value) == (
        401,
        {"detail": "your session has ended: log in again at POST /v1/sessions"},
        {},
    )
    # The whole family is gone: its current access token is refused at once, its new refresh token too.
    with pytest.raises(Unauthenticated):
        await world.authenticator.caller(f"Bearer {legit.access.token}", "/v1/documents")
    with pytest.raises(SessionEnded):
        await world.logins.refresh(legit.refresh.token)
    # The other device's session is untouched.
    await world.authenticator.caller(f"Bearer {other_access}", "/v1/documents")
    assert (await world.logins.refresh(other_refresh)).access.account_id == "acc-1"


async def test_a_refresh_without_a_usable_token_is_401_and_another_regions_goes_home(world: World) -> None:
    _, refresh = await log_in(world)
    for token in (None, "", "forged", "mars-1.abc", "us-west-2.never-issued", "us-west-2.bad<token>"):
        with pytest.raises(SessionEnded):
            await world.logins.refresh(token)
    world.now = NOW + timedelta(days=8)  # past the session's lifetime
    with pytest.raises(SessionEnded):
        await world.logins.refresh(refresh)
    assert world.sessions.refresh_rows == {}  # an expired family is cleared
    with pytest.raises(AccountElsewhere) as home:
        await world.logins.refresh("ap-southeast-2.abc", query="x=1")
    assert home.value.location == "https://b.example/v1/sessions/refresh?x=1"


async def test_log_out_ends_this_family_by_bearer_or_by_refresh_cookie(world: World) -> None:
    access, refresh = await log_in(world)
    other_access, other_refresh = await log_in(world)
    await world.logins.log_out(f"Bearer {access}")
    with pytest.raises(SessionEnded):
        await world.logins.refresh(refresh)
    # Without a bearer token (it expired), the refresh cookie names the session to end.
    await world.logins.log_out(None, refresh_token=other_refresh)
    with pytest.raises(Unauthenticated):
        await world.authenticator.caller(f"Bearer {other_access}", "/v1/documents")
    assert world.sessions.rows == {} and world.sessions.refresh_rows == {}
    with pytest.raises(Unauthenticated):
        await world.logins.log_out(None)
    # An expired access token beside a live cookie: the cookie's session still ends.
    access, refresh = await log_in(world)
    world.now = NOW + timedelta(minutes=20)
    await world.logins.log_out(f"Bearer {access}", refresh_token=refresh)
    with pytest.raises(SessionEnded):
        await world.logins.refresh(refresh)


async def test_log_out_everywhere_ends_every_session_of_the_account_at_once(world: World) -> None:
    first, first_refresh = await log_in(world)
    second, second_refresh = await log_in(world)
    theirs, theirs_refresh = await log_in(world, "acc-2")
    await world.logins.log_out_everywhere(f"Bearer {first}")
    for access, refresh in ((first, first_refresh), (second, second_refresh)):
        with pytest.raises(Unauthenticated):
            await world.authenticator.caller(f"Bearer {access}", "/v1/documents")
        with pytest.raises(SessionEnded):
            await world.logins.refresh(refresh)
    await world.authenticator.caller(f"Bearer {theirs}", "/v1/documents")
    assert (await world.logins.refresh(theirs_refresh)).access.account_id == "acc-2"
    with pytest.raises(Unauthenticated):
        await world.logins.log_out_everywhere(f"Bearer {first}")


# --- authentication ----------------------------------------------------------------------------


async def test_malformed_or_unknown_region_tokens_are_refused_without_a_lookup(world: World) -> None:
    for authorization in (None, "Basic abc", "Bearer evil<script>.x", "Bearer mars-1.abc", "Bearer forged"):
        with pytest.raises(Unauthenticated) as refused:
            await world.authenticator.caller(authorization, "/v1/documents")
        assert answered(refused.value) == (
            401,
            {"detail": "a valid bearer token is required: log in at POST /v1/sessions"},
            {"www-authenticate": "Bearer"},
        )
    assert world.sessions.reads == 0


async def test_a_live_session_names_its_caller_and_an_expired_one_does_not(world: World) -> None:
    live = await world.session("acc-1", "admin")
    assert await world.authenticator.caller(f"Bearer {live}", "/v1/x") == (live, Caller("acc-1", "admin"))
    expired = await world.session("acc-2", expires=NOW)
    with pytest.raises(Unauthenticated):
        await world.authenticator.caller(f"Bearer {expired}", "/v1/x")


async def test_another_regions_token_is_sent_home_and_this_regions_unknown_one_is_401(world: World) -> None:
    with pytest.raises(AccountElsewhere) as home:
        await world.authenticator.caller("Bearer ap-southeast-2.someone", "/v1/documents/a?limit=5")
    assert home.value.location == "https://b.example/v1/documents/a?limit=5"
    with pytest.raises(Unauthenticated):
        await world.authenticator.caller("Bearer us-west-2.nobody", "/v1/documents")


# --- forwarding --------------------------------------------------------------------------------


def incoming(
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: bytes = b"",
    query: str = "",
    reads: list[bytes] | None = None,
) -> Incoming:
    """A request; each read of its body is appended to `reads`."""

    async def read() -> bytes:
        if reads is not None:
            reads.append(body)
        return body

    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    return Incoming(method, path.encode(), path, query, headers, read, "10.0.0.1")


async def test_a_table_route_goes_to_its_service_under_the_canonical_path_as_the_caller(world: World) -> None:
    token = await world.session("acc-1")
    world.upstreams.reply = UpstreamAnswer(200, b"[]", {"content-type": "application/json"})
    got = await world.forwarding.forward(incoming("GET", "/v1/documents/a%2Db", token=token, query="limit=5"))
    assert got.status == 200
    (call,) = world.upstreams.calls
    assert (call["service"], call["path"], call["query"]) == ("metadata", "documents/a-b", "limit=5")
    assert call["caller"] == Caller("acc-1")


async def test_refusals_come_before_the_body_is_read(world: World) -> None:
    token = await world.session("acc-1")
    reads: list[bytes] = []
    cases: list[tuple[Incoming, type[GatewayError]]] = [
        (incoming("GET", "/v1/internal/credentials/verify", token=token, reads=reads), NoSuchRoute),
        (incoming("POST", "/v1/usage", token=token, reads=reads), MethodNotAllowed),
        (incoming("GET", "/v1/documents/%2e%2e/x", token=token, reads=reads), BadPath),
        (incoming("GET", "/v1/documents", reads=reads), Unauthenticated),
        (incoming("GET", "/v1/admin/totals", token=token, reads=reads), AdminOnly),
    ]
    for request, refusal in cases:
        with pytest.raises(refusal):
            await world.forwarding.forward(request)
    assert reads == [] and world.upstreams.calls == []
    with pytest.raises(MethodNotAllowed) as wrong:
        await world.forwarding.forward(incoming("POST", "/v1/usage", token=token))
    assert answered(wrong.value) == (405, {"detail": "this route does not take this method"}, {"allow": "GET"})
    with pytest.raises(AdminOnly) as admin:
        await world.forwarding.forward(incoming("GET", "/v1/admin/totals", token=token))
    assert answered(admin.value) == (403, {"detail": "this route is for administrators"}, {})
    with pytest.raises(NoSuchRoute) as missing:
        await world.forwarding.forward(incoming("GET", "/v1/nothing", token=token))
    assert answered(missing.value) == (404, {"detail": "no such route: see /docs for the API"}, {})


async def test_sign_ups_are_public_and_throttled(world: World) -> None:
    world.upstreams.reply = UpstreamAnswer(201, b"{}")
    assert (await world.forwarding.forward(incoming("POST", "/v1/accounts", body=b"{}"))).status == 201
    assert world.upstreams.calls[0]["caller"] is None
    world.throttle.signup_wait = 9
    with pytest.raises(Throttled) as refused:
        await world.forwarding.forward(incoming("POST", "/v1/accounts", body=b"{}"))
    assert answered(refused.value) == (
        429,
        {"detail": "too many sign-ups from this address: try again in 9 seconds"},
        {"retry-after": "9"},
    )


async def test_a_body_too_large_or_a_service_down(world: World) -> None:
    token = await world.session("acc-1")
    with pytest.raises(BodyTooLarge) as large:
        await world.forwarding.forward(incoming("POST", "/v1/uploads", token=token, body=b"x" * 11))
    assert answered(large.value) == (413, {"detail": "request body too large: file bytes go straight to S3"}, {})
    world.upstreams.reply = None
    with pytest.raises(UpstreamUnavailable) as down:
        await world.forwarding.forward(incoming("GET", "/v1/usage", token=token))
    assert answered(down.value) == (503, {"detail": "quota is unavailable; try again"}, {"retry-after": "5"})


async def test_deleting_the_account_ends_all_its_sessions_only_when_the_service_did_it(world: World) -> None:
    token, other = await world.session("acc-1"), await world.session("acc-2")
    await world.sessions.add(Session("us-west-2.second", "acc-1", "user", NOW, NOW + timedelta(days=1)))
    world.upstreams.reply = UpstreamAnswer(409, b"{}")
    await world.forwarding.forward(incoming("DELETE", "/v1/account", token=token))
    assert len(world.sessions.rows) == 3
    world.upstreams.reply = UpstreamAnswer(204)
    await world.forwarding.forward(incoming("DELETE", "/v1/account", token=token))
    assert set(world.sessions.rows) == {other}


# --- composition -------------------------------------------------------------------------------


async def test_bootstrap_builds_the_services_for_its_region() -> None:
    services = bootstrap(Settings(region="us-west-2"))
    try:
        assert services.authenticator.regions.region == "us-west-2"
    finally:
        await services.aclose()


# --- held requests (long polls; issue 33, finding 9) -------------------------------------------


async def test_long_polls_are_capped_per_account_on_their_own_pool_and_others_go_on(world: World) -> None:
    from docstore_gateway.domain.errors import TooManyHeld
    from docstore_gateway.domain.held import HeldRequests

    hog, other = await world.session("acc-hog"), await world.session("acc-other")
    world.upstreams.gate = asyncio.Event()
    forwarding = Forwarding(
        world.upstreams,
        world.authenticator,
        world.sessions,
        world.throttle,
        max_body_bytes=10,
        held=HeldRequests(per_account=2, per_address=100, total=100),
        held_retry_seconds=7,
    )
    polls = [
        asyncio.create_task(forwarding.forward(incoming("GET", "/v1/changes", token=hog, query="wait=30")))
        for _ in range(2)
    ]
    while len(world.upstreams.calls) < 2:
        await asyncio.sleep(0)
    assert [call["held"] for call in world.upstreams.calls] == [True, True]
    with pytest.raises(TooManyHeld) as refused:
        await forwarding.forward(incoming("GET", "/v1/changes", token=hog, query="cursor=x&wait=5"))
    assert refused.value.status == 429 and refused.value.headers() == {"Retry-After": "7"}
    assert len(world.upstreams.calls) == 2  # the refused one never reached the service
    # Asked without waiting, the feed is no held request; another account's poll is its own.
    world.upstreams.gate.set()
    assert (await forwarding.forward(incoming("GET", "/v1/changes", token=hog, query="wait=0"))).status == 200
    assert world.upstreams.calls[-1]["held"] is False
    assert (await forwarding.forward(incoming("GET", "/v1/changes", token=other, query="wait=1"))).status == 200
    await asyncio.gather(*polls)
    # Answered polls give their places back.
    assert (await forwarding.forward(incoming("GET", "/v1/changes", token=hog, query="wait=1"))).status == 200
    assert forwarding.held.held == 0 and not forwarding.held.accounts

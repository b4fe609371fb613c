"""Throttling at the gateway (issue 13, item 5): guessing one account's password and flooding
sign-ups from one address are slowed down with 429 + Retry-After. A client cannot escape a limit
per address by writing another address in X-Forwarded-For (issue 33, finding 1): only a trusted
proxy's header counts, and a share link's password has a limit per link too.

The shared system runs with limits far above what the suites do (docstore_devplatform.e2e SYSTEM_ENV),
so these tests use a gateway of their own with low limits (`throttled_gateway`, conftest.py), in
front of region A's services and on a sessions database of its own, so its counters never touch
the shared gateway's."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, System

from .conftest import LINK_TRIES_PER_ADDRESS, LINK_TRIES_PER_LINK, LOGIN_FAILURES, SIGN_UPS, TRUSTED_PROXY, new_user
from .test_share_links import LINK_PASSWORD, _create, _owned_document

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def retry_after(answer: httpx.Response) -> int:
    value = answer.headers.get("retry-after", "")
    assert value.isdigit() and int(value) > 0, f"429 without a usable Retry-After: {answer.headers}"
    return int(value)


async def test_wrong_passwords_for_one_username_are_throttled(system: System, throttled_gateway: str) -> None:
    target, bystander = await new_user(system.gateway), await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for attempt in range(LOGIN_FAILURES + 3):
            answer = await gateway.post(
                "/v1/sessions", json={"username": target.username, "password": f"guess number {attempt}"}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                assert "guess number" not in answer.text
                break
        assert statuses[-1] == 429, f"{len(statuses)} wrong passwords, never throttled: {statuses}"
        assert set(statuses[:-1]) == {401}, statuses
        assert len(statuses) <= LOGIN_FAILURES + 1, statuses

        # While throttled, even the right password is refused: otherwise the 429 tells a guesser
        # nothing and the guessing simply goes on.
        right = await gateway.post("/v1/sessions", json={"username": target.username, "password": PASSWORD})
        assert right.status_code == 429, right.text
        retry_after(right)
        assert "token" not in right.json()

        # Another account is not locked out by someone guessing this one's password.
        other = await gateway.post("/v1/sessions", json={"username": bystander.username, "password": PASSWORD})
        assert other.status_code == 201, other.text


async def test_a_sign_up_flood_from_one_address_is_throttled(throttled_gateway: str) -> None:
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for _ in range(SIGN_UPS + 3):
            username = f"flood-{uuid.uuid4().hex[:10]}"
            answer = await gateway.post(
                "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                break
        assert statuses[-1] == 429, f"{len(statuses)} sign-ups from one address, never throttled: {statuses}"
        assert set(statuses[:-1]) == {201}, statuses
        assert len(statuses) <= SIGN_UPS + 1, statuses


async def test_a_refused_sign_up_counts_toward_the_address_limit_too(throttled_gateway: str) -> None:
    """Every sign-up attempt counts, before its body is read: a malformed one too (accounts' 422).
    So the next test can count attempts without paying an argon2 hash and an account for each."""
    async with from_address("127.0.0.41", throttled_gateway) as gateway:
        statuses = [(await gateway.post("/v1/accounts", json={})).status_code for _ in range(SIGN_UPS + 1)]
    assert statuses == [422] * SIGN_UPS + [429], statuses


async def test_the_shared_system_is_not_throttled_by_ordinary_test_traffic(system: System) -> None:
    """The suites sign up hundreds of accounts from 127.0.0.1: the shared gateway's limits must
    sit above that, or unrelated tests would fail with 429 in a full run. Malformed attempts
    (422, no account made) count as sign-ups do (the test above), and cost no argon2 hash."""
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as gateway:
        for _ in range(15):  # the gateway's default is 10 a minute per address
            answer = await gateway.post("/v1/accounts", json={})
            assert answer.status_code == 422, answer.text


def from_address(address: str, base_url: str) -> httpx.AsyncClient:
    """A client whose connections leave from `address` (a loopback address of its own)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, timeout=40.0, transport=transport)


def spoofed(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{n % 250 + 1}"}


async def test_a_forged_forwarded_for_does_not_escape_the_sign_up_limit(throttled_gateway: str) -> None:
    """Order-proof: the flood test above may have spent 127.0.0.1's sign-ups already (then the
    first answer is a 429); either way a forged header never buys more than SIGN_UPS."""
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for attempt in range(SIGN_UPS + 3):
            username = f"spoof-{uuid.uuid4().hex[:10]}"
            answer = await gateway.post(
                "/v1/accounts",
                headers=spoofed(attempt),
                json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break
        assert statuses[-1] == 429, f"a new X-Forwarded-For each time escaped the sign-up limit: {statuses}"
        assert len(statuses) <= SIGN_UPS + 1, statuses


async def test_a_link_password_is_limited_per_address_whatever_the_header_and_per_link_whatever_the_address(
    api: httpx.AsyncClient, endpoints: Any, throttled_gateway: str
) -> None:
    owner, document_id = await _owned_document(api, endpoints, body=b"guarded")
    created = await _create(api, owner, document_id, password=LINK_PASSWORD)
    assert created.status_code == 201, created.text
    path = httpx.URL(created.json()["url"]).path
    # One address, a new X-Forwarded-For each try: still one address's budget.
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as guesser:
        statuses = []
        for attempt in range(LINK_TRIES_PER_ADDRESS + 3):
            answer = await guesser.post(path, headers=spoofed(attempt), data={"password": f"guess-{attempt}"})
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
        assert len(statuses) == LINK_TRIES_PER_ADDRESS + 1, statuses
    # Many real addresses, one wrong try each, every one under its own address's limit: the link
    # closes once LINK_TRIES_PER_LINK wrong passwords were tried in all, even to a fresh address
    # holding the right password.
    for n in range(LINK_TRIES_PER_LINK - LINK_TRIES_PER_ADDRESS):
        async with from_address(f"127.0.0.{10 + n}", throttled_gateway) as guesser:
            answer = await guesser.post(path, data={"password": f"botnet-{n}"})
            assert answer.status_code == 401, answer.text
    async with from_address("127.0.0.30", throttled_gateway) as fresh:
        closed = await fresh.post(path, data={"password": LINK_PASSWORD})
        assert closed.status_code == 429, f"{LINK_TRIES_PER_LINK} wrong passwords from many addresses: {closed.text}"
        retry_after(closed)


async def test_only_a_trusted_proxy_names_the_client_and_then_the_right_most_address(
    system: System, throttled_gateway: str
) -> None:
    """A login's address, as the device list shows it: a forged X-Forwarded-For from any peer
    but the trusted proxy is ignored (127.0.0.1 included); from the proxy, the right-most entry."""
    user = await new_user(system.gateway)
    chain = "6.6.6.6, 198.51.100.77"  # the client wrote 6.6.6.6; the proxy appended 198.51.100.77
    addresses = {}
    for peer in ("127.0.0.1", "127.0.0.6", TRUSTED_PROXY):
        async with from_address(peer, throttled_gateway) as gateway:
            login = await gateway.post(
                "/v1/sessions",
                headers={"X-Forwarded-For": chain, "User-Agent": f"from {peer}"},
                json={"username": user.username, "password": PASSWORD},
            )
            assert login.status_code == 201, login.text
            devices = await gateway.get(
                "/v1/account/sessions", headers={"Authorization": f"Bearer {login.json()['token']}"}
            )
            assert devices.status_code == 200, devices.text
            [device] = [item for item in devices.json()["items"] if item.get("current")]
            addresses[peer] = device["address"]
    assert addresses == {"127.0.0.1": "127.0.0.1", "127.0.0.6": "127.0.0.6", TRUSTED_PROXY: "198.51.100.77"}


async def test_wrong_app_passwords_for_one_username_are_throttled_like_logins(
    system: System, throttled_gateway: str
) -> None:
    """Guessing an app password over HTTP Basic (issue 36) meets the username's limit, counted
    apart from the web login's: the right app password waits too, the web login does not."""
    target = await new_user(system.gateway)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as shared:
        made = await shared.post("/v1/account/app-passwords", json={"name": "rclone"}, headers=target.auth)
        assert made.status_code == 201, made.text
    right = made.json()["password"]

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{target.username}:{password}".encode()).decode()}

    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        statuses = []
        for attempt in range(LOGIN_FAILURES + 3):
            answer = await gateway.get(
                "/v1/documents", headers=basic(f"aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaa{attempt:02d}")
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after(answer)
                break
        assert statuses[-1] == 429, f"{len(statuses)} wrong app passwords, never throttled: {statuses}"
        assert set(statuses[:-1]) == {401} and len(statuses) <= LOGIN_FAILURES + 1, statuses
        waiting = await gateway.get("/v1/documents", headers=basic(right))
        assert waiting.status_code == 429, waiting.text
        assert right not in waiting.text
        login = await gateway.post("/v1/sessions", json={"username": target.username, "password": PASSWORD})
        assert login.status_code == 201, login.text

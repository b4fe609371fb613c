"""The gateway in-process on real MongoDB, in front of real in-process accounts and metadata services
(real Kafka and MongoDB): the route table, tokens, headers and the login/sign-up throttle end to end."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio

from docstore_accounts.main import create_app as create_accounts
from docstore_accounts.settings import Settings as AccountsSettings
from docstore_gateway.main import create_app as create_gateway
from docstore_gateway.settings import Settings as GatewaySettings
from docstore_metadata.main import create_app as create_metadata
from docstore_metadata.settings import Settings as MetadataSettings

pytestmark = pytest.mark.integration

PASSWORD = "quiet lantern orbit 73 marmalade"
REGIONS = json.dumps({"us-west-2": "http://gateway-a.test", "ap-southeast-2": "http://gateway-b.test"})
LOOSE = {"login_limits_per_username": "", "login_limits_per_address": "", "signup_limits_per_address": ""}

Gateway = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest_asyncio.fixture
async def metadata_app(endpoints: Any, isolated: dict[str, str]) -> AsyncIterator[Any]:
    app = create_metadata(
        MetadataSettings(**isolated, s3_bucket="docstore-us-west-2", s3_endpoint_url=endpoints.s3_endpoint)
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture
async def accounts_app(isolated: dict[str, str]) -> AsyncIterator[Any]:
    app = create_accounts(AccountsSettings(**(isolated | {"mongodb_database": f"{isolated['mongodb_database']}_acc"})))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def gateway(isolated: dict[str, str], metadata_app: Any, accounts_app: Any) -> Gateway:
    """A factory: a gateway with these settings (throttle limits...), whose accounts and metadata are
    the real in-process ones; the other services are absent (nothing here reaches them)."""

    @asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        metadata = httpx.AsyncClient(transport=httpx.ASGITransport(app=metadata_app), base_url="http://metadata.test")
        accounts = httpx.AsyncClient(transport=httpx.ASGITransport(app=accounts_app), base_url="http://accounts.test")
        app = create_gateway(
            GatewaySettings(
                **(
                    LOOSE
                    | {
                        "mongodb_url": isolated["mongodb_url"],
                        "mongodb_database": f"{isolated['mongodb_database']}_gw",
                        "kafka_bootstrap_servers": isolated["kafka_bootstrap_servers"],
                        "kafka_topic_prefix": isolated["kafka_topic_prefix"],
                        "region": "us-west-2",
                        "region_gateways": REGIONS,
                        "web_dir": "",
                    }
                    | settings
                )
            ),
            upstream_clients={"metadata": metadata, "accounts": accounts},
        )
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway-a.test", timeout=60
            ) as client:
                yield client

    return start


async def sign_up(client: httpx.AsyncClient) -> str:
    username = f"u{uuid.uuid4().hex[:12]}"
    answer = await client.post(
        "/v1/accounts", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    return username


async def log_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/sessions", json={"username": username, "password": password})


def assert_headers(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"


def retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    assert "try again in" in answer.json()["detail"]
    value = answer.headers["retry-after"]
    assert value.isdigit() and 1 <= int(value) <= 60
    return int(value)


async def test_failed_logins_throttle_the_username_even_for_the_right_password(gateway: Gateway) -> None:
    # Limits as low as still prove it: each login costs metadata an argon2 verification.
    async with gateway(login_limits_per_username="2/minute;10/hour") as client:
        target, bystander = await sign_up(client), await sign_up(client)
        for _ in range(3):  # successes never count toward the limit (one more than it)
            assert (await log_in(client, target)).status_code == 201
        for _ in range(2):
            assert (await log_in(client, target, "wrong horse battery")).status_code == 401
        throttled = await log_in(client, target, "wrong horse battery")
        retry_after(throttled)
        assert_headers(throttled)
        assert target not in throttled.text
        retry_after(await log_in(client, target))  # the right password too: no oracle while throttled
        retry_after(await log_in(client, target.upper()))  # spelt another way, the same account
        assert (await log_in(client, bystander)).status_code == 201


async def test_login_attempts_are_limited_per_address(gateway: Gateway) -> None:
    async with gateway(login_limits_per_address="2/minute") as client:
        username = await sign_up(client)
        for _ in range(2):
            assert (await log_in(client, f"nobody-{uuid.uuid4().hex[:8]}")).status_code == 401
        retry_after(await log_in(client, username))


async def test_sign_ups_are_limited_per_address(gateway: Gateway) -> None:
    async with gateway(signup_limits_per_address="2/minute") as client:
        await sign_up(client)
        await sign_up(client)
        flood = await client.post(
            "/v1/accounts", json={"username": "flood-3", "email": "f@example.com", "password": PASSWORD}
        )
        retry_after(flood)
        assert_headers(flood)


async def test_password_reset_requests_are_limited_per_address(gateway: Gateway) -> None:
    """Public, and each costs metadata an argon2 verification: known or not, the third in the
    minute from one address is refused before it reaches metadata."""
    async with gateway(password_reset_limits_per_address="2/minute") as client:
        username = await sign_up(client)
        for name in (username, f"nobody-{uuid.uuid4().hex[:8]}"):
            asked = await client.post("/v1/account/password-reset", json={"username_or_email": name})
            assert asked.status_code == 202, asked.text
        flood = await client.post("/v1/account/password-reset", json={"username_or_email": username})
        retry_after(flood)
        assert_headers(flood)


async def test_only_table_routes_are_forwarded_under_canonical_paths(gateway: Gateway) -> None:
    async with gateway() as client:
        username = await sign_up(client)
        token = (await log_in(client, username)).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        listed = await client.get("/v1/documents", headers=auth)
        assert listed.status_code == 200 and listed.json()["items"] == []
        # Forwarded, and metadata answers for a document that does not exist (an encoded
        # unreserved character reaches the same route).
        assert (await client.get("/v1/documents/no%2Dsuch-doc", headers=auth)).status_code == 404
        for method, path in [
            ("GET", "/v1/internal/accounts/x/documents/y"),
            ("POST", "/v1/internal/credentials/verify"),
            ("GET", "/v1/nothing-here"),
            ("GET", "/v1/documents/a/b/c/d"),
            ("GET", "/v1/"),
        ]:
            answer = await client.request(method, path, headers=auth, json={"username": username, "password": PASSWORD})
            assert answer.status_code == 404, (path, answer.text)
            assert "internal" not in answer.text and "nothing-here" not in answer.text
            assert_headers(answer)
        wrong = await client.post("/v1/usage", headers=auth)
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
        encoded = await client.get("/v1/documents/%2e%2e/internal/credentials/verify", headers=auth)
        assert encoded.status_code == 400 and "internal" not in encoded.text
        assert_headers(encoded)


async def test_tokens_are_checked_for_shape_and_region(gateway: Gateway) -> None:
    async with gateway() as client:
        for token in ("evil<script>.x", "mars-1.abcdefgh", "forged", "us-west-2.not-a-session"):
            answer = await client.get("/v1/documents", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401 and "<" not in answer.text and "mars" not in answer.text
            assert_headers(answer)
        # A well-formed token of another configured region goes home, to the canonical path.
        home = await client.get(
            "/v1/documents/abc%2Dd",
            params={"limit": "5"},
            headers={"Authorization": "Bearer ap-southeast-2.someone-elses"},
        )
        assert home.status_code == 307
        assert home.headers["location"] == "http://gateway-b.test/v1/documents/abc-d?limit=5"
        assert_headers(home)


# --- sessions: refresh cookie, rotation, reuse detection, logging out everywhere ---------------

COOKIE = "__Secure-docstore-refresh"


def refresh_cookie(answer: httpx.Response) -> tuple[str, list[str]]:
    """The refresh token an answer sets, and the cookie's attributes (lower-case)."""
    [header] = [value for value in answer.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}=")]
    pair, *attributes = (part.strip() for part in header.split(";"))
    return pair.split("=", 1)[1], [attribute.lower() for attribute in attributes]


async def refresh(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    # Sent by hand: httpx (rightly) keeps a Secure cookie off this plain-http test transport.
    return await client.post("/v1/sessions/refresh", headers={"Cookie": f"{COOKIE}={token}"} if token else {})


async def test_the_refresh_cookie_rotates_and_a_reused_one_revokes_the_session(gateway: Gateway) -> None:
    async with gateway(access_ttl_seconds=300) as client:
        username = await sign_up(client)
        login = await log_in(client, username)
        assert login.status_code == 201 and login.headers["cache-control"] == "no-store"
        first, attributes = refresh_cookie(login)
        assert {"httponly", "secure", "samesite=strict", "path=/v1/sessions"} <= set(attributes)
        assert f"max-age={7 * 24 * 3600}" in attributes
        assert first not in login.text  # never in the body: page scripts cannot read it

        rotated = await refresh(client, first)
        assert rotated.status_code == 200, rotated.text
        second, _ = refresh_cookie(rotated)
        access = rotated.json()["token"]
        assert second != first and access != login.json()["token"]
        assert (await client.get("/v1/account", headers={"Authorization": f"Bearer {access}"})).status_code == 200

        stolen = await refresh(client, first)  # the old copy, presented again
        assert stolen.status_code == 401 and stolen.json()["detail"].startswith("your session has ended")
        assert first not in stolen.text
        # Its family is revoked: the current access token at once, and the current refresh token.
        assert (await client.get("/v1/account", headers={"Authorization": f"Bearer {access}"})).status_code == 401
        assert (await refresh(client, second)).status_code == 401
        assert (await refresh(client, None)).status_code == 401


async def test_log_out_everywhere_refuses_every_token_of_the_account_at_once(gateway: Gateway) -> None:
    async with gateway() as client:
        username = await sign_up(client)
        logins = [await log_in(client, username) for _ in range(2)]
        tokens = [answer.json()["token"] for answer in logins]
        cookies = [refresh_cookie(answer)[0] for answer in logins]
        ended = await client.delete("/v1/sessions", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert ended.status_code == 204
        cleared = ended.headers["set-cookie"].lower()  # the browser forgets the cookie too
        assert cleared.startswith(COOKIE.lower() + "=") and "max-age=0" in cleared and "path=/v1/sessions" in cleared
        for token, cookie in zip(tokens, cookies, strict=True):
            assert (await client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})).status_code == 401
            assert (await refresh(client, cookie)).status_code == 401
        # Logging out of this session alone, by the refresh cookie when the access token is gone.
        again = await log_in(client, username)
        cookie = refresh_cookie(again)[0]
        out = await client.delete("/v1/sessions/current", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert out.status_code == 204
        assert (await refresh(client, cookie)).status_code == 401
        headers = {"Authorization": f"Bearer {again.json()['token']}"}
        assert (await client.get("/v1/account", headers=headers)).status_code == 401


async def test_a_program_keeps_its_refresh_token_in_bodies_and_rotation_still_holds(gateway: Gateway) -> None:
    async with gateway() as client:
        username = await sign_up(client)
        login = await client.post(
            "/v1/sessions", json={"username": username, "password": PASSWORD, "refresh_token_in_body": True}
        )
        assert login.status_code == 201 and "set-cookie" not in login.headers  # nothing for a browser to keep
        first = login.json()["refresh_token"]
        assert first.startswith("us-west-2.") and login.json()["refresh_expires_at"]
        rotated = await client.post("/v1/sessions/refresh", json={"refresh_token": first})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["refresh_token"]
        assert second != first and "set-cookie" not in rotated.headers
        assert (await client.post("/v1/sessions/refresh", json={"refresh_token": first})).status_code == 401
        assert (await client.post("/v1/sessions/refresh", json={"refresh_token": second})).status_code == 401
        # A browser's login answers no refresh token in its body.
        assert "refresh_token" not in (await log_in(client, username)).json()

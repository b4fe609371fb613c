"""Issue 20, the gateway's side, on real MongoDB and Kafka with a stub accounts service (the
credential check and the second-factor check, as the accounts service answers them):

- two-step login: the password step answers 401 `mfa_required` with a ticket and no session;
  `POST /v1/sessions/mfa` with the ticket and a good code answers a session; the ticket works
  once, is refused when tampered with, and names its account (the code is checked for that one);
  wrong codes are throttled like passwords;
- `account.sessions-revoked` (published to Kafka as the accounts service would): the refresh token and the
  access token of earlier logins are refused ("signed out"), a later login is not, and the same
  event delivered again changes nothing;
- devices: each login is a listed session (client in short form, address, region, the current
  one marked), one can be ended, or every other one; a login from a new client writes one
  `account.new-sign-in` to the outbox (not the first login, not a repeat), with no token in it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient

from docstore_events.credentials import AccountSessionsRevoked
from docstore_events.devices import NewDeviceSignInDetected
from docstore_events.envelope import decode
from docstore_gateway.main import create_app as create_gateway
from docstore_gateway.settings import Settings as GatewaySettings

pytestmark = pytest.mark.integration

PASSWORD = "quiet lantern orbit 73 marmalade"
GOOD_CODE = "123456"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
LOOSE = {"login_limits_per_username": "", "login_limits_per_address": "", "signup_limits_per_address": ""}


@dataclass
class StubAccounts:
    """The accounts service's two internal checks: usernames starting with `mfa` have 2FA on; the one good
    code is GOOD_CODE. Records which account each code was checked for."""

    code_checks: list[tuple[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/credentials/verify")
        async def verify(request: Request) -> JSONResponse:
            body = await request.json()
            if body["password"] != PASSWORD:
                return JSONResponse({"detail": "wrong username or password"}, status_code=401)
            return JSONResponse(
                {
                    "account_id": f"acc-{body['username']}",
                    "username": body["username"],
                    "role": "user",
                    "mfa_required": body["username"].startswith("mfa"),
                    "email_verified": True,
                }
            )

        @app.post("/internal/accounts/{account_id}/mfa/verify")
        async def second_factor(account_id: str, request: Request) -> JSONResponse:
            code = (await request.json())["code"]
            self.code_checks.append((account_id, code))
            if code != GOOD_CODE:
                return JSONResponse({"detail": "wrong code"}, status_code=401)
            return JSONResponse({"ok": True, "method": "totp"})

        return app


@dataclass
class Gateway:
    client: httpx.AsyncClient
    db: Any
    accounts: StubAccounts


async def _gateway(endpoints: Any, isolated: dict[str, str], **settings: str) -> AsyncIterator[Gateway]:
    accounts = StubAccounts()
    database = f"{isolated['mongodb_database']}_gw"
    gateway_settings = GatewaySettings(**(isolated | LOOSE | {"mongodb_database": database, "web_dir": ""} | settings))
    stub = httpx.AsyncClient(transport=httpx.ASGITransport(app=accounts.app()), base_url="http://accounts.test")
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(isolated["mongodb_url"], tz_aware=True)
    app = create_gateway(gateway_settings, upstream_clients={"accounts": stub})
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", timeout=60
        ) as client:
            try:
                yield Gateway(client, mongo[database], accounts)
            finally:
                await mongo.close()


@pytest_asyncio.fixture
async def gateway(endpoints: Any, isolated: dict[str, str]) -> AsyncIterator[Gateway]:
    async for found in _gateway(endpoints, isolated):
        yield found


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def log_in(client: httpx.AsyncClient, username: str, *, agent: str = FIREFOX) -> httpx.Response:
    return await client.post(
        "/v1/sessions",
        json={"username": username, "password": PASSWORD, "refresh_token_in_body": True},
        headers={"User-Agent": agent},
    )


# --- two-step login ---------------------------------------------------------------------------


async def test_a_2fa_login_needs_the_second_step_and_its_ticket_works_once(gateway: Gateway) -> None:
    client = gateway.client
    username = f"mfa{uuid.uuid4().hex[:8]}"
    first = await log_in(client, username)
    assert first.status_code == 401, first.text
    assert first.headers["content-type"] == "application/problem+json"
    body = first.json()
    assert body["detail"] == "Enter the code from your authenticator app"
    assert body["mfa_required"] is True and "token" not in body
    ticket = body["mfa_ticket"]
    assert await gateway.db["sessions"].count_documents({"account_id": f"acc-{username}"}) == 0

    wrong = await client.post("/v1/sessions/mfa", json={"mfa_ticket": ticket, "code": "000000"})
    assert wrong.status_code == 401 and wrong.json()["type"].endswith("wrong-code")
    done = await client.post(
        "/v1/sessions/mfa",
        json={"mfa_ticket": ticket, "code": GOOD_CODE, "refresh_token_in_body": True},
        headers={"User-Agent": CHROME},
    )
    assert done.status_code == 201, done.text
    session = done.json()
    assert session["account_id"] == f"acc-{username}" and session["refresh_token"]
    assert gateway.accounts.code_checks == [(f"acc-{username}", "000000"), (f"acc-{username}", GOOD_CODE)]

    listed = await client.get("/v1/account/sessions", headers=bearer(session["token"]))
    assert listed.status_code == 200, listed.text
    [device] = listed.json()["items"]
    assert device["current"] is True and device["client"] == "Chrome 131 on Mac OS X"

    again = await client.post("/v1/sessions/mfa", json={"mfa_ticket": ticket, "code": GOOD_CODE})
    assert again.status_code == 401 and again.json()["type"].endswith("mfa-ticket-refused")
    assert ticket not in again.text

    # A ticket with one character changed (its signature no longer fits) is not a ticket.
    forged = ticket[:-2] + ("A" if ticket[-2] != "A" else "B") + ticket[-1]
    refused = await client.post("/v1/sessions/mfa", json={"mfa_ticket": forged, "code": GOOD_CODE})
    assert refused.status_code == 401 and refused.json()["type"].endswith("mfa-ticket-refused")
    assert len(gateway.accounts.code_checks) == 2  # neither was sent to the accounts service


async def test_an_account_without_2fa_logs_in_in_one_step(gateway: Gateway) -> None:
    answer = await log_in(gateway.client, f"u{uuid.uuid4().hex[:8]}")
    assert answer.status_code == 201 and "mfa_required" not in answer.json()


async def test_wrong_codes_are_throttled_per_account_even_with_a_new_ticket(
    endpoints: Any, isolated: dict[str, str]
) -> None:
    async for gateway in _gateway(endpoints, isolated, login_limits_per_username="3/minute"):
        client = gateway.client
        username = f"mfa{uuid.uuid4().hex[:8]}"
        ticket = (await log_in(client, username)).json()["mfa_ticket"]
        for _ in range(3):
            answer = await client.post("/v1/sessions/mfa", json={"mfa_ticket": ticket, "code": "999999"})
            assert answer.status_code == 401
        fresh = (await log_in(client, username)).json()["mfa_ticket"]
        throttled = await client.post("/v1/sessions/mfa", json={"mfa_ticket": fresh, "code": GOOD_CODE})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        assert len(gateway.accounts.code_checks) == 3  # the throttled attempt was not checked


# --- revocation of every session --------------------------------------------------------------


async def test_sessions_revoked_refuses_earlier_logins_and_keeps_later_ones(gateway: Gateway, publisher: Any) -> None:
    client = gateway.client
    username = f"u{uuid.uuid4().hex[:8]}"
    account_id = f"acc-{username}"
    tab = (await log_in(client, username)).json()
    phone = (await log_in(client, username, agent=CHROME)).json()
    assert (await client.get("/v1/account/sessions", headers=bearer(tab["token"]))).status_code == 200

    record = await publisher.send(
        AccountSessionsRevoked(account_id=account_id, revoked_before=datetime.now(UTC), reason="password-reset")
    )

    async def refused() -> bool:
        answer = await client.get("/v1/account/sessions", headers=bearer(phone["token"]))
        return answer.status_code == 401

    await wait_until(refused)
    answer = await client.get("/v1/account/sessions", headers=bearer(tab["token"]))
    assert answer.status_code == 401 and answer.json()["detail"] == "You were signed out: sign in again"
    spent = await client.post("/v1/sessions/refresh", json={"refresh_token": tab["refresh_token"]})
    assert spent.status_code == 401
    assert await gateway.db["refresh_tokens"].count_documents({"account_id": account_id}) == 0
    assert await gateway.db["session_families"].count_documents({"account_id": account_id}) == 0

    later = (await log_in(client, username)).json()
    await publisher.resend(record)  # Kafka may deliver it again: nothing changes

    async def processed_twice_or_once() -> bool:
        found = await gateway.db["processed_events"].find_one({"_id": f"gateway:{record.id}"})
        return found is not None

    await wait_until(processed_twice_or_once)
    kept = await client.get("/v1/account/sessions", headers=bearer(later["token"]))
    assert kept.status_code == 200, kept.text
    refreshed = await client.post("/v1/sessions/refresh", json={"refresh_token": later["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


# --- devices ----------------------------------------------------------------------------------


async def new_sign_ins(db: Any, account_id: str) -> list[tuple[NewDeviceSignInDetected, bytes]]:
    rows = await db["outbox"].find({"headers.ce_type": NewDeviceSignInDetected.cloudevent_type()}).to_list(None)
    found = [(decode(row["headers"], row["value"]).data, bytes(row["value"])) for row in rows]
    return [(event, value) for event, value in found if event.account_id == account_id]


async def test_sessions_are_listed_ended_one_by_one_or_all_but_this_one(gateway: Gateway) -> None:
    client = gateway.client
    username = f"u{uuid.uuid4().hex[:8]}"
    account_id = f"acc-{username}"
    laptop = (await log_in(client, username)).json()
    assert await new_sign_ins(gateway.db, account_id) == []  # the first sign-in: nothing to compare with
    phone = (await log_in(client, username, agent=CHROME)).json()
    [(event, value)] = await new_sign_ins(gateway.db, account_id)
    assert (event.client, event.address, event.region) == ("Chrome 131 on Mac OS X", "127.0.0.1", "us-west-2")
    for secret in (phone["token"], phone["refresh_token"], laptop["token"]):
        assert secret.encode() not in value
    await log_in(client, username, agent=CHROME.replace("131.0.0.0", "132.0.0.0"))  # an update: not new
    assert len(await new_sign_ins(gateway.db, account_id)) == 1

    page = await client.get("/v1/account/sessions?limit=2", headers=bearer(laptop["token"]))
    assert page.status_code == 200
    first = page.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (await client.get(f"/v1/account/sessions{first['next']}", headers=bearer(laptop["token"]))).json()
    devices = first["items"] + rest["items"]
    assert len(devices) == 3 and rest["next_cursor"] is None
    assert [d["current"] for d in devices].count(True) == 1
    [mine] = [d for d in devices if d["current"]]
    assert mine["client"] == "Firefox 133 on Ubuntu" and mine["address"] == "127.0.0.1"
    phone_id = next(d["session_id"] for d in devices if d["client"] == "Chrome 131 on Mac OS X")

    ended = await client.delete(f"/v1/account/sessions/{phone_id}", headers=bearer(laptop["token"]))
    assert ended.status_code == 204
    # The phone's client is told it was signed out (sign in again), not a bare 401, on both tokens,
    # also when it tries its refresh token twice.
    refused = await client.get("/v1/account/sessions", headers=bearer(phone["token"]))
    assert refused.status_code == 401 and refused.json()["type"].endswith(":signed-out"), refused.text
    assert refused.json()["detail"] == "You were signed out: sign in again"
    assert "invalid_token" in refused.headers["www-authenticate"]
    for _ in range(2):
        gone = await client.post("/v1/sessions/refresh", json={"refresh_token": phone["refresh_token"]})
        assert gone.status_code == 401 and gone.json()["type"].endswith(":signed-out"), gone.text
    # The laptop's own session is untouched.
    assert (await client.get("/v1/account/sessions", headers=bearer(laptop["token"]))).status_code == 200
    again = await client.delete(f"/v1/account/sessions/{phone_id}", headers=bearer(laptop["token"]))
    assert again.status_code == 404

    # Another account cannot end (or learn of) this account's sessions.
    stranger = (await log_in(client, f"u{uuid.uuid4().hex[:8]}")).json()
    theirs = await client.delete(f"/v1/account/sessions/{mine['session_id']}", headers=bearer(stranger["token"]))
    assert theirs.status_code == 404

    others = await client.delete("/v1/account/sessions?keep=current", headers=bearer(laptop["token"]))
    assert others.status_code == 204
    left = (await client.get("/v1/account/sessions", headers=bearer(laptop["token"]))).json()["items"]
    assert [d["session_id"] for d in left] == [mine["session_id"]]


async def test_a_refresh_updates_last_seen(gateway: Gateway) -> None:
    client = gateway.client
    login = (await log_in(client, f"u{uuid.uuid4().hex[:8]}")).json()
    before = (await client.get("/v1/account/sessions", headers=bearer(login["token"]))).json()["items"][0]
    await asyncio.sleep(0.05)
    refreshed = (await client.post("/v1/sessions/refresh", json={"refresh_token": login["refresh_token"]})).json()
    after = (await client.get("/v1/account/sessions", headers=bearer(refreshed["token"]))).json()["items"][0]
    assert after["session_id"] == before["session_id"] and after["current"] is True
    assert datetime.fromisoformat(after["last_seen_at"]) > datetime.fromisoformat(before["last_seen_at"])
    assert datetime.fromisoformat(after["created_at"]) == datetime.fromisoformat(before["created_at"])
    assert timedelta(0) <= datetime.now(UTC) - datetime.fromisoformat(after["created_at"]) < timedelta(minutes=10)

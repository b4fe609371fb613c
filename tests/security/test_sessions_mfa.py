"""Issue 20's session rules, on the shared system (and, for throttling, a gateway of its own):

- a session revoked in one tab (a password change there) is refused in another tab, for the
  bearer token ("You were signed out: sign in again") and for its refresh token;
- a two-step login's ticket works once (a second use is refused before any code is checked, so
  the recovery code sent with it is not used up), cannot be used for another account (the code
  is checked against the ticket's account only; a ticket whose account was changed is no ticket),
  and the second step is throttled like the password step;
- no ticket and no code is written in any log line.

The throttling test uses the security suite's throttled gateway (`throttled_gateway`, conftest.py),
whose limit on a username's (or an account's second-step) failures is `LOGIN_FAILURES`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pyotp
import pytest

from docstore_devplatform.e2e import PASSWORD, System, User
from docstore_devplatform.testing import eventually

from .conftest import LOGIN_FAILURES as WRONG_CODES
from .conftest import new_user

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEW_PASSWORD = "velvet harbour quartz 2291"
SIGNED_OUT = "You were signed out: sign in again"


async def log_in(api: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post(
        "/v1/sessions", json={"username": username, "password": password, "refresh_token_in_body": True}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def with_2fa(api: httpx.AsyncClient, user: User) -> list[str]:
    """Turn two-step sign-in on for `user` (one valid code from the secret the enrolment shows);
    its recovery codes. Turning it on ends every session of the account."""
    enrolled = await api.post("/v1/account/mfa/enrol", headers=user.auth)
    assert enrolled.status_code in (200, 201), enrolled.text
    code = pyotp.TOTP(enrolled.json()["secret"]).now()
    confirmed = await api.post("/v1/account/mfa/confirm", json={"code": code}, headers=user.auth)
    assert confirmed.status_code in (200, 201), confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    return codes


async def ticket_of(api: httpx.AsyncClient, username: str) -> str:
    answer = await log_in(api, username)
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["mfa_required"] is True and body["detail"] == "Enter the code from your authenticator app"
    assert "token" not in body
    return str(body["mfa_ticket"])


async def second_step(api: httpx.AsyncClient, ticket: str, code: str) -> httpx.Response:
    return await api.post("/v1/sessions/mfa", json={"mfa_ticket": ticket, "code": code, "refresh_token_in_body": True})


async def test_a_session_revoked_in_one_tab_is_refused_in_another(api: httpx.AsyncClient, system: System) -> None:
    user = await new_user(system.gateway)
    other_tab = (await log_in(api, user.username)).json()
    assert (await api.get("/v1/documents", headers=bearer(other_tab["token"]))).status_code == 200

    changed = await api.put(
        "/v1/account/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.auth,
    )
    assert changed.status_code == 204, changed.text

    async def refused() -> httpx.Response | None:
        answer = await api.get("/v1/documents", headers=bearer(other_tab["token"]))
        return answer if answer.status_code == 401 else None

    answer = await eventually(refused, timeout=120)
    assert answer.json()["detail"] == SIGNED_OUT
    assert answer.headers["content-type"] == "application/problem+json"
    # The tab that changed it is signed out too, and the other tab's refresh token is spent for good.
    assert (await api.get("/v1/account/sessions", headers=user.auth)).json()["detail"] == SIGNED_OUT
    refresh = await api.post("/v1/sessions/refresh", json={"refresh_token": other_tab["refresh_token"]})
    assert refresh.status_code == 401
    assert (await log_in(api, user.username)).status_code == 401  # the old password is gone
    fresh = await log_in(api, user.username, NEW_PASSWORD)
    assert fresh.status_code == 201, fresh.text
    listed = await api.get("/v1/account/sessions", headers=bearer(fresh.json()["token"]))
    assert listed.status_code == 200 and [d["current"] for d in listed.json()["items"]] == [True]


async def test_an_mfa_ticket_works_once_and_for_its_own_account_only(api: httpx.AsyncClient, system: System) -> None:
    alice, bob = await new_user(system.gateway), await new_user(system.gateway)
    alice_codes, bob_codes = await with_2fa(api, alice), await with_2fa(api, bob)

    ticket = await ticket_of(api, alice.username)
    done = await second_step(api, ticket, alice_codes[0])
    assert done.status_code == 201, done.text
    assert done.json()["account_id"] == alice.account_id

    # Used once: refused, and before the code is checked (alice's next recovery code still works).
    again = await second_step(api, ticket, alice_codes[1])
    assert again.status_code == 401 and again.json()["type"].endswith("mfa-ticket-refused")
    assert ticket not in again.text
    assert (await second_step(api, await ticket_of(api, alice.username), alice_codes[1])).status_code == 201

    # Bob's code with Alice's ticket is a wrong code for Alice, and signs in nobody.
    crossed = await second_step(api, await ticket_of(api, alice.username), bob_codes[0])
    assert crossed.status_code == 401 and crossed.json()["type"].endswith("wrong-code")
    # A ticket whose account was changed to Bob's is no ticket (its signature no longer fits).
    header, claims, signature = (await ticket_of(api, alice.username)).split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["sub"] = bob.account_id
    forged_claims = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    forged = await second_step(api, f"{header}.{forged_claims}.{signature}", bob_codes[0])
    assert forged.status_code == 401 and forged.json()["type"].endswith("mfa-ticket-refused")
    # Bob's recovery code was not spent by either attempt.
    assert (await second_step(api, await ticket_of(api, bob.username), bob_codes[0])).status_code == 201

    # No ticket and no code in any log line of any service.
    secrets = [ticket, *alice_codes[:2], *bob_codes[:1]]
    logs = Path(system.logs)
    for path in sorted(await asyncio.to_thread(lambda: list(logs.glob("*.log")))):
        text = await asyncio.to_thread(path.read_text, errors="replace")
        for secret in secrets:
            assert secret not in text, f"{path.name} holds a ticket or a code"


async def test_the_second_step_is_throttled_like_the_password_step(
    api: httpx.AsyncClient, system: System, throttled_gateway: str
) -> None:
    user = await new_user(system.gateway)
    codes = await with_2fa(api, user)
    async with httpx.AsyncClient(base_url=throttled_gateway, timeout=40.0) as gateway:
        ticket = await ticket_of(gateway, user.username)
        for attempt in range(WRONG_CODES):
            wrong = await second_step(gateway, ticket, f"{attempt:06d}")
            assert wrong.status_code == 401 and wrong.json()["type"].endswith("wrong-code")
        # Over the limit: refused even with a right code and a fresh ticket, with Retry-After.
        throttled = await second_step(gateway, await ticket_of(gateway, user.username), codes[0])
        assert throttled.status_code == 429, throttled.text
        assert int(throttled.headers["retry-after"]) > 0
    # The throttled attempt did not spend the recovery code: it still works at the shared gateway.
    assert (await second_step(api, await ticket_of(api, user.username), codes[0])).status_code == 201

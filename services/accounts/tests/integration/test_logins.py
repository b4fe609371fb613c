"""The credential check's audit events (the gateway's login): a success and a wrong password each
leave exactly one event in the outbox, on the account, and none carries the password or its hash;
a name nobody holds records nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from docstore_events.activity import AccountLoggedIn, AccountLoginFailed

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration


async def _sign_up(accounts: Harness, password: str) -> dict[str, str]:
    name = f"audit{uuid.uuid4().hex[:10]}"
    answer = await accounts.http.post(
        "/accounts", json={"username": name, "email": f"{name}@example.com", "password": password}
    )
    assert answer.status_code == 201, answer.text
    return {"account_id": answer.json()["account_id"], "username": name}


async def _verify(accounts: Harness, username: str, password: str) -> int:
    answer = await accounts.http.post(
        "/internal/credentials/verify",
        json={"username": username, "password": password},
        headers=accounts.service_headers("gateway"),
    )
    return answer.status_code


async def test_logins_record_success_and_failure_on_the_account_and_never_the_password(accounts: Harness) -> None:
    password = f"correct horse {uuid.uuid4().hex}"
    wrong = f"wrong battery {uuid.uuid4().hex}"
    ada = await _sign_up(accounts, password)

    assert await _verify(accounts, ada["username"], password) == 200
    assert await _verify(accounts, ada["username"], wrong) == 401
    assert await _verify(accounts, f"nobody{uuid.uuid4().hex[:8]}", wrong) == 401  # unknown: nothing recorded

    [logged_in] = await accounts.emitted(AccountLoggedIn)
    assert (logged_in.account_id, logged_in.username) == (ada["account_id"], ada["username"])
    [failed] = await accounts.emitted(AccountLoginFailed)
    assert (failed.account_id, failed.reason) == (ada["account_id"], "wrong-password")
    for value in await accounts.outbox_values("account.logged-in") + await accounts.outbox_values(
        "account.login-failed"
    ):
        assert password.encode() not in value and wrong.encode() not in value
        assert b"hash" not in value and b"argon2" not in value

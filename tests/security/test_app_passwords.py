"""Attacks on app passwords (issue 36), on the shared system:

- another account's app password id cannot be revoked (404, and it goes on working), and an app
  password is worth nothing with another account's username;
- a revoked app password is refused at once, with the Basic challenge and nothing else, and so is
  a deleted account's;
- an app password reaches neither account security nor the app passwords themselves, so a stolen
  one cannot make another, list them, or lock its owner out;
- no app password, nor its Basic header, is written in any log line of any service.

Throttling of wrong app passwords is in `test_throttling.py` (a gateway of its own, with low limits).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from docstore_devplatform.e2e import System

from .conftest import new_user

pytestmark = [pytest.mark.e2e]


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def make(api: httpx.AsyncClient, auth: dict[str, str], scope: str = "webdav-sync") -> dict:
    made = await api.post("/v1/account/app-passwords", json={"name": "tool", "scope": scope}, headers=auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_app_passwords_hold_against_another_account_a_revocation_and_the_logs(
    api: httpx.AsyncClient, system: System
) -> None:
    alice, bob = await new_user(system.gateway), await new_user(system.gateway)
    alices = await make(api, alice.auth)
    bobs = await make(api, bob.auth)

    # Bob cannot revoke Alice's (it is not found among his), and it goes on working.
    crossed = await api.delete(f"/v1/account/app-passwords/{alices['app_password_id']}", headers=bob.auth)
    assert crossed.status_code == 404, crossed.text
    assert alices["password"] not in crossed.text
    assert (await api.get("/v1/documents", headers=basic(alice.username, alices["password"]))).status_code == 200
    # Alice's app password with Bob's username (or Bob's with hers) is no one's.
    for username, password in [(bob.username, alices["password"]), (alice.username, bobs["password"])]:
        refused = await api.get("/v1/documents", headers=basic(username, password))
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    # Neither list shows the other's, nor any secret.
    listed = (await api.get("/v1/account/app-passwords", headers=bob.auth)).text
    assert alices["app_password_id"] not in listed and bobs["password"] not in listed

    # A stolen app password cannot make another one, list them, revoke one, or change the password.
    stolen = basic(alice.username, alices["password"])
    for method, path, body in [
        ("POST", "/v1/account/app-passwords", {"name": "mine now", "scope": "webdav-sync"}),
        ("GET", "/v1/account/app-passwords", None),
        ("DELETE", f"/v1/account/app-passwords/{alices['app_password_id']}", None),
        ("POST", "/v1/account/mfa/enrol", None),
        ("PUT", "/v1/account/email", {"password": alices["password"], "new_email": "thief@example.com"}),
        ("GET", "/v1/admin/audit", None),
    ]:
        answer = await api.request(method, path, json=body, headers=stolen)
        assert answer.status_code == 403, (method, path, answer.text)
    assert (await api.get("/v1/account/app-passwords", headers=alice.auth)).json()["items"][0]["app_password_id"] == (
        alices["app_password_id"]
    )

    # Revoked: refused at once, with the Basic challenge, and the answer says nothing of it.
    assert (
        await api.delete(f"/v1/account/app-passwords/{alices['app_password_id']}", headers=alice.auth)
    ).status_code == 204
    dead = await api.get("/v1/documents", headers=stolen)
    assert dead.status_code == 401 and dead.headers["www-authenticate"].startswith("Basic")
    assert alices["password"] not in dead.text and alices["app_password_id"] not in dead.text
    again = await api.delete(f"/v1/account/app-passwords/{alices['app_password_id']}", headers=alice.auth)
    assert again.status_code == 404

    # A deleted account's app passwords die with it, remembered by the gateway or not.
    assert (await api.get("/v1/documents", headers=basic(bob.username, bobs["password"]))).status_code == 200
    assert (await api.delete("/v1/account", headers=bob.auth)).status_code == 204
    assert (await api.get("/v1/documents", headers=basic(bob.username, bobs["password"]))).status_code == 401

    # No app password and no Basic header in any log line of any service.
    secrets = [
        alices["password"],
        bobs["password"],
        alices["password"].replace("-", ""),
        stolen["Authorization"].split()[1],
    ]
    logs = Path(system.logs)
    for path in sorted(await asyncio.to_thread(lambda: list(logs.glob("*.log")))):
        text = await asyncio.to_thread(path.read_text, errors="replace")
        for secret in secrets:
            assert secret not in text, f"{path.name} holds an app password"

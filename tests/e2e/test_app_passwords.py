"""App passwords over the public API (issue 36), on the shared system: one works with the
username over HTTP Basic for an account with two-step sign-in, never for the web app's login,
a read-only one is refused writes, none reaches the account's security, each is listed with its
last use, and a revoked one is dead at once."""

from __future__ import annotations

import base64

import httpx
import pyotp
import pytest

from .conftest import PASSWORD, System, User, sign_up

pytestmark = [pytest.mark.e2e]


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def create(api: httpx.AsyncClient, user: User, name: str, scope: str, auth: dict[str, str]) -> dict:
    made = await api.post("/v1/account/app-passwords", json={"name": name, "scope": scope}, headers=auth)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert body["username"] == user.username and body["scope"] == scope and body["last_used_at"] is None
    return dict(body)


async def test_an_app_password_works_for_a_two_step_account_over_the_api_and_never_for_the_web_login(
    api: httpx.AsyncClient, system: System
) -> None:
    user = await sign_up(api)
    sync = await create(api, user, "rclone on the NAS", "webdav-sync", user.auth)
    read_only = await create(api, user, "backup script", "read-only", user.auth)
    # Two-step sign-in on (this ends every session of the account, not its app passwords).
    secret = (await api.post("/v1/account/mfa/enrol", headers=user.auth)).json()["secret"]
    confirmed = await api.post("/v1/account/mfa/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=user.auth)
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert (await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})).json()[
        "mfa_required"
    ] is True

    # The app password, over HTTP Basic: reads and writes the account's files, no second factor asked.
    listed = await api.get("/v1/documents", headers=basic(user.username, sync["password"]))
    assert listed.status_code == 200, listed.text
    granted = await api.post(
        "/v1/uploads",
        json={"filename": "from-rclone.txt", "size": 3, "content_type": "text/plain"},
        headers=basic(user.username, sync["password"]),
    )
    assert granted.status_code == 201, granted.text
    # The read-only one reads, and is refused every change.
    assert (await api.get("/v1/documents", headers=basic(user.username, read_only["password"]))).status_code == 200
    refused = await api.post(
        "/v1/uploads",
        json={"filename": "nope.txt", "size": 3, "content_type": "text/plain"},
        headers=basic(user.username, read_only["password"]),
    )
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    # Never the web app's login, never the account's security, never the app passwords themselves.
    login = await api.post("/v1/sessions", json={"username": user.username, "password": sync["password"]})
    assert login.status_code == 401 and "token" not in login.json() and "mfa_ticket" not in login.json()
    for method, path, body in [
        ("PUT", "/v1/account/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
        ("GET", "/v1/account/app-passwords", None),
        ("DELETE", "/v1/account", None),
    ]:
        answer = await api.request(method, path, json=body, headers=basic(user.username, sync["password"]))
        assert answer.status_code == 403, (path, answer.text)
    assert (await api.get("/v1/account/sessions", headers=basic(user.username, sync["password"]))).status_code == 401

    # Signed in again (password and a recovery code): the list shows both, with the last use.
    ticket = (await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})).json()
    session = await api.post("/v1/sessions/mfa", json={"mfa_ticket": ticket["mfa_ticket"], "code": recovery[0]})
    assert session.status_code == 201, session.text
    owner = {"Authorization": f"Bearer {session.json()['token']}"}
    items = {
        item["app_password_id"]: item
        for item in (await api.get("/v1/account/app-passwords", headers=owner)).json()["items"]
    }
    assert set(items) == {sync["app_password_id"], read_only["app_password_id"]}
    assert items[sync["app_password_id"]]["last_used_at"] is not None
    assert all("password" not in item and "digest" not in item for item in items.values())

    # Revoked: dead at once, the other one goes on.
    revoked = await api.delete(f"/v1/account/app-passwords/{sync['app_password_id']}", headers=owner)
    assert revoked.status_code == 204, revoked.text
    dead = await api.get("/v1/documents", headers=basic(user.username, sync["password"]))
    assert dead.status_code == 401 and dead.headers["www-authenticate"].startswith("Basic")
    assert (await api.get("/v1/documents", headers=basic(user.username, read_only["password"]))).status_code == 200
    assert [
        item["app_password_id"] for item in (await api.get("/v1/account/app-passwords", headers=owner)).json()["items"]
    ] == [read_only["app_password_id"]]

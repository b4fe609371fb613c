"""Account recovery and second factors under attack (issue 20), on the running system: a reset link
works once, not after it expires, and only for its own account; the answer for an unknown address
is the answer for a known one; a TOTP code cannot be replayed inside its window; recovery codes
work once each; and no token, TOTP secret, recovery code or password reaches a log line, an event
or an audit record."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import PASSWORD, User, mail_links, sign_up, token_of
from docstore_devplatform.testing import eventually
from docstore_kit.auth import DEV_KEY_ID, DEV_KEYS, InternalAuth, parse_keys

NEW_PASSWORD = "granite swallow evening 5820"
RESET = "Reset your DocStore password"


def metadata_db(endpoints: Any) -> Any:
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    return client, client["docstore_metadata_us_west_2"]


def accounts_db(endpoints: Any) -> Any:
    """Identity's database (issue 36: the accounts service owns the tokens and the account events)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    return client, client["docstore_accounts_us_west_2"]


async def reset_link(api: httpx.AsyncClient, user: User, already: int = 0) -> str:
    asked = await api.post("/v1/account/password-reset", json={"username_or_email": user.username})
    assert asked.status_code == 202
    links = await eventually(lambda: _more(user.email, already), timeout=120)
    return links[-1]


async def _more(address: str, already: int) -> list[str] | None:
    links = await mail_links(address, RESET)
    return links if len(links) > already else None


async def confirm(api: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return await api.post("/v1/account/password-reset/confirm", json={"token": token, "new_password": password})


async def login(api: httpx.AsyncClient, username: str, password: str) -> int:
    return (await api.post("/v1/sessions", json={"username": username, "password": password})).status_code


async def test_a_reset_link_works_once_in_time_and_for_its_own_account(api: httpx.AsyncClient, endpoints: Any) -> None:
    user, other = await sign_up(api), await sign_up(api)
    link = await reset_link(api, user)
    assert (await confirm(api, token_of(link))).status_code == 204
    again = await confirm(api, token_of(link), "another " + NEW_PASSWORD)
    assert again.status_code == 400 and "not valid" in again.json()["detail"]
    assert await login(api, user.username, NEW_PASSWORD) == 201

    # The link names its account, whatever the caller: the other account's password is untouched.
    assert await login(api, other.username, PASSWORD) == 201
    assert await login(api, other.username, NEW_PASSWORD) == 401

    # A made-up token, and one whose 30 minutes are over, are refused the same way.
    assert (await confirm(api, "x" * 43)).status_code == 400
    stale = token_of(await reset_link(api, other))
    client, db = accounts_db(endpoints)
    try:
        import hashlib

        moved = await db["account_tokens"].update_one(
            {"_id": hashlib.sha256(stale.encode()).hexdigest()},
            {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
        )
        assert moved.matched_count == 1  # stored by its digest, never the token itself
        assert await db["account_tokens"].find_one({"_id": stale}) is None
    finally:
        await client.close()
    assert (await confirm(api, stale)).status_code == 400
    assert await login(api, other.username, PASSWORD) == 201


async def test_an_unknown_address_gets_the_answer_a_known_one_gets(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    known = await api.post("/v1/account/password-reset", json={"username_or_email": user.email})
    unknown = await api.post(
        "/v1/account/password-reset", json={"username_or_email": f"nobody-{uuid.uuid4().hex[:8]}@example.com"}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    varying = {"date", "x-request-id", "traceparent", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit"}
    same = {k: v for k, v in known.headers.items() if k.lower() not in varying}
    assert same == {k: v for k, v in unknown.headers.items() if k.lower() not in varying}


def _accounts_client(system: Any) -> httpx.AsyncClient:
    auth = InternalAuth("gateway", parse_keys(DEV_KEYS), DEV_KEY_ID)
    return httpx.AsyncClient(base_url=system.urls["accounts"], auth=auth.client_auth("accounts"), timeout=30)


async def test_totp_codes_cannot_be_replayed_and_recovery_codes_work_once(
    api: httpx.AsyncClient, system: Any, endpoints: Any
) -> None:
    user = await sign_up(api)
    enrol = await api.post("/v1/account/mfa/enrol", headers=user.auth)
    assert enrol.status_code == 200, enrol.text
    secret = enrol.json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = await api.post("/v1/account/mfa/confirm", headers=user.auth, json={"code": totp.now()})
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    async with _accounts_client(system) as metadata:
        url = f"/internal/accounts/{user.account_id}/mfa/verify"
        code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
        first, second = await asyncio.gather(
            metadata.post(url, json={"code": code}), metadata.post(url, json={"code": code})
        )
        assert sorted([first.status_code, second.status_code]) == [200, 401]  # one wins, the replay loses
        assert (await metadata.post(url, json={"code": code})).status_code == 401
        assert (await metadata.post(url, json={"code": totp.now()})).status_code == 401  # an older step
        for recovery in codes[:3]:
            assert (await metadata.post(url, json={"code": recovery})).json()["method"] == "recovery"
            assert (await metadata.post(url, json={"code": recovery})).status_code == 401
        # From outside, the internal route does not exist.
        assert (
            await api.post(f"/v1/internal/accounts/{user.account_id}/mfa/verify", json={"code": code})
        ).status_code == 404

    await _no_secret_anywhere(api, system, endpoints, user, [secret, *codes, PASSWORD])


async def _no_secret_anywhere(
    api: httpx.AsyncClient, system: Any, endpoints: Any, user: User, secrets: list[str]
) -> None:
    link = await reset_link(api, user)
    token = token_of(link)
    assert (await confirm(api, token)).status_code == 204
    secrets += [token, NEW_PASSWORD]

    logs = Path(system.logs)
    text = ""
    for path in sorted(await asyncio.to_thread(lambda: list(logs.glob("*.log")))):
        text += await asyncio.to_thread(path.read_text, errors="replace")
    for secret in secrets:
        assert secret not in text, "a secret reached a log line"

    # Events (what Kafka carries) and the audit records made of them (the trail is accounts').
    client, db = metadata_db(endpoints)
    identity_client, identity_db = accounts_db(endpoints)
    try:

        async def recorded() -> list[dict[str, Any]] | None:
            rows = await identity_db["audit_log"].find({"account_id": user.account_id}).to_list(None)
            actions = {row["action"] for row in rows}
            wanted = {"account.mfa-changed", "account.password-changed", "account.sessions-revoked"}
            return rows if wanted <= actions else None

        records = await eventually(recorded, timeout=120, interval=0.5)
        outbox = await db["outbox"].find({}).to_list(None)
        outbox += await identity_db["outbox"].find({}).to_list(None)
        everything = json.dumps(records, default=str) + " ".join(str(row.get("value")) for row in outbox)
    finally:
        await client.close()
        await identity_client.close()
    for secret in secrets:
        assert secret not in everything, "a secret reached an event or an audit record"

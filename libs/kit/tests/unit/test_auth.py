"""Identity tokens: what a service accepts, and everything it refuses."""

from __future__ import annotations

import json
import time
from datetime import datetime, tzinfo

import httpx
import jwt
import pytest
from fastapi import FastAPI

from docstore_kit.auth import (
    IDENTITY_HEADER,
    AdminAccountId,
    CurrentAccountId,
    InternalAuth,
    InvalidIdentity,
    ServiceCaller,
    parse_keys,
)
from docstore_kit.settings import ServiceSettings

OLD = "old-key-0123456789-0123456789-0123456789"
NEW = "new-key-0123456789-0123456789-0123456789"


def auth(service: str, keys: dict[str, str], kid: str) -> InternalAuth:
    return InternalAuth(service, keys, kid)


def test_a_token_names_its_caller_for_one_audience() -> None:
    gateway, metadata = auth("gateway", {"a": OLD}, "a"), auth("metadata", {"a": OLD}, "a")
    identity = metadata.verify(gateway.mint(audience="metadata", subject="acc-1", role="admin"))
    assert (identity.subject, identity.role) == ("acc-1", "admin")
    with pytest.raises(InvalidIdentity):  # minted for quota, replayed at metadata
        metadata.verify(gateway.mint(audience="quota", subject="acc-1"))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "a.b.c",
        "evil<script>.x",
        jwt.encode(
            {
                "sub": "acc-1",
                "role": "admin",
                "aud": "metadata",
                "iss": "docstore",
                "iat": int(time.time()),
                "exp": int(time.time()) + 60,
            },
            "guessed-key-0123456789-0123456789",
            algorithm="HS256",
            headers={"kid": "a"},
        ),
        jwt.encode({"sub": "acc-1", "role": "admin", "aud": "metadata", "iss": "docstore"}, key="", algorithm="none"),
    ],
)
def test_forged_and_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidIdentity):
        auth("metadata", {"a": OLD}, "a").verify(token)


def test_an_expired_token_is_refused() -> None:
    short = InternalAuth("gateway", {"a": OLD}, "a", ttl_seconds=-60)
    with pytest.raises(InvalidIdentity):
        auth("metadata", {"a": OLD}, "a").verify(short.mint(audience="metadata", subject="acc-1"))


def later(monkeypatch: pytest.MonkeyPatch, moment: float) -> None:
    """Both clocks at `moment`: `time.time` (minting, the memory of verified tokens) and PyJWT's."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            return cls.fromtimestamp(moment, tz)

    monkeypatch.setattr(time, "time", lambda: moment)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Clock)


def test_a_verified_token_is_remembered_only_while_it_lives_and_for_its_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The clock is frozen mid-second: a real one may tick between two lines, and `iat` is whole seconds.
    now = int(time.time()) + 0.5
    later(monkeypatch, now)
    gateway, metadata = auth("gateway", {"a": OLD}, "a"), auth("metadata", {"a": OLD}, "a")
    token = gateway.mint(audience="metadata", subject="acc-1")
    assert gateway.mint(audience="metadata", subject="acc-1") == token  # the same second: the same token
    assert metadata.verify(token).subject == "acc-1"
    with pytest.raises(InvalidIdentity):  # remembered for metadata, still not a token for quota
        metadata.verify(token, audience="quota")
    later(monkeypatch, now + 60 + 4)  # past `exp`, within the leeway
    assert metadata.verify(token).subject == "acc-1"
    later(monkeypatch, now + 60 + 6)  # past the leeway: refused, remembered or not
    with pytest.raises(InvalidIdentity):
        metadata.verify(token)
    with pytest.raises(InvalidIdentity):
        metadata.verify(token)
    assert gateway.mint(audience="metadata", subject="acc-1") != token  # a later second: a new token


def test_rotation_accepts_both_keys_while_it_lasts() -> None:
    # Step 1: every service knows both keys, still signing with the old one; step 2: signers switch.
    both_old = auth("gateway", {"old": OLD, "new": NEW}, "old")
    both_new = auth("gateway", {"old": OLD, "new": NEW}, "new")
    receiver = auth("metadata", {"old": OLD, "new": NEW}, "new")
    for signer in (both_old, both_new):
        assert receiver.verify(signer.mint(audience="metadata", subject="acc")).subject == "acc"
    # Step 3: the old key is removed; tokens signed with it are refused.
    with pytest.raises(InvalidIdentity):
        auth("metadata", {"new": NEW}, "new").verify(both_old.mint(audience="metadata", subject="acc"))


@pytest.mark.parametrize("raw", ["", "[]", "{}", '{"a": "short"}', "not json", '{"a": 1}'])
def test_bad_key_settings_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_keys(raw)


class _Settings(ServiceSettings):
    service = "quota"


def test_the_development_key_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _Settings(environment="development").internal_auth_key_id == "dev-1"
    with pytest.raises(ValueError, match="internal_auth_keys"):
        _Settings(environment="production")
    real = json.dumps({"k1": NEW})
    assert _Settings(environment="production", internal_auth_keys=real, internal_auth_key_id="k1")
    with pytest.raises(ValueError, match="internal_auth_key_id"):
        _Settings(internal_auth_keys=real, internal_auth_key_id="missing")


async def test_routes_take_the_caller_from_the_token_only() -> None:
    app = FastAPI()
    app.state.internal_auth = receiver = auth("quota", {"a": OLD}, "a")

    @app.get("/mine")
    async def mine(account_id: CurrentAccountId) -> str:
        return account_id

    @app.get("/admin")
    async def admin(account_id: AdminAccountId) -> str:
        return account_id

    @app.get("/internal")
    async def internal(caller: ServiceCaller) -> str:
        return caller

    gateway = auth("gateway", {"a": OLD}, "a")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q") as http:
        bare = {"X-Account-Id": "acc-1", "X-Account-Role": "admin"}
        for path in ("/mine", "/admin", "/internal"):
            assert (await http.get(path, headers=bare)).status_code == 401
        user = gateway.headers(audience="quota", subject="acc-1")
        assert (await http.get("/mine", headers=user)).json() == "acc-1"
        assert (await http.get("/admin", headers=user)).status_code == 403
        assert (await http.get("/internal", headers=user)).status_code == 403
        admin_headers = gateway.headers(audience="quota", subject="acc-2", role="admin")
        assert (await http.get("/admin", headers=admin_headers)).json() == "acc-2"
        signed = await http.get("/internal", headers={}, auth=gateway.client_auth("quota"))
        assert signed.json() == "gateway"
        assert (await http.get("/mine", headers={IDENTITY_HEADER: "garbage"})).status_code == 401
        assert receiver.service == "quota"

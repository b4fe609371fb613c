"""Sessions against the running system (issue 17): the refresh token is an HttpOnly, Secure,
SameSite=Strict cookie on /v1/sessions only; each one works once; a stolen copy replayed after
the owner's refresh revokes the whole session (refresh-token reuse detection); logging out of
all devices refuses every token of the account at once. Bearer clients still read the access
token from the login's body. The access token is signed (issue 36): altered or forged, it is 401."""

from __future__ import annotations

import base64

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, sign_up

pytestmark = pytest.mark.e2e

COOKIE = "__Secure-docstore-refresh"


def refresh_cookie(answer: httpx.Response) -> tuple[str, set[str]]:
    """The refresh token an answer sets, and the cookie's attributes (lower-case)."""
    [header] = [value for value in answer.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}=")]
    pair, *attributes = (part.strip() for part in header.split(";"))
    return pair.split("=", 1)[1], {attribute.lower() for attribute in attributes}


async def refresh(api: httpx.AsyncClient, token: str | None) -> httpx.Response:
    # By hand: httpx keeps a Secure cookie off plain http (browsers make an exception for 127.0.0.1).
    return await api.post("/v1/sessions/refresh", headers={"Cookie": f"{COOKIE}={token}"} if token else {})


async def me(api: httpx.AsyncClient, token: str) -> int:
    return (await api.get("/v1/account", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_session_cookie_flags_and_the_bearer_token_in_the_body(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)  # docstore_devplatform's helper: bearer clients keep working
    assert await me(api, user.token) == 200
    login = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 201 and login.json()["token_type"] == "bearer"
    token, attributes = refresh_cookie(login)
    assert {"httponly", "secure", "samesite=strict", "path=/v1/sessions"} <= attributes
    assert not any(attribute.startswith("domain=") for attribute in attributes)  # this host only
    assert token not in login.text and login.headers["cache-control"] == "no-store"


async def test_a_stolen_refresh_token_replayed_after_rotation_revokes_the_session(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    login = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})
    stolen, _ = refresh_cookie(login)
    owner = await refresh(api, stolen)  # the owner's browser refreshes first
    assert owner.status_code == 200, owner.text
    current, _ = refresh_cookie(owner)
    owners_access = owner.json()["token"]
    assert await me(api, owners_access) == 200

    replay = await refresh(api, stolen)  # the thief replays the copy
    assert replay.status_code == 401 and "set-cookie" not in replay.headers
    assert stolen not in replay.text and "token" not in replay.json()
    # The family is revoked at once: the owner's access token and newest refresh token too.
    assert await me(api, owners_access) == 401
    assert (await refresh(api, current)).status_code == 401
    assert await me(api, user.token) == 200  # another login of the account is another session


async def test_refresh_without_a_cookie_or_with_a_forged_one_is_401(api: httpx.AsyncClient) -> None:
    for token in (None, "", "forged", "us-west-2.never-issued", "mars-1.abc", "us-west-2.<script>"):
        answer = await refresh(api, token)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "<script>" not in answer.text and "never-issued" not in answer.text
    # A bearer token is not a refresh token.
    user = await sign_up(api)
    assert (await refresh(api, user.token)).status_code == 401
    assert await me(api, user.token) == 200


async def test_log_out_of_all_devices_refuses_every_token_at_once(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    other = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})
    other_refresh, _ = refresh_cookie(other)
    stranger = await sign_up(api)
    assert (await api.delete("/v1/sessions")).status_code == 401  # needs a bearer token, not a cookie
    ended = await api.delete("/v1/sessions", headers=user.auth)
    assert ended.status_code == 204
    assert await me(api, user.token) == 401 and await me(api, other.json()["token"]) == 401
    assert (await refresh(api, other_refresh)).status_code == 401
    assert await me(api, stranger.token) == 200


def altered(token: str, index: int) -> str:
    """The signed access token with one bit of its signed part flipped."""
    region, text = token.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return f"{region}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


async def test_an_altered_or_forged_signed_access_token_is_401(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    stranger = await sign_up(api)
    assert await me(api, user.token) == 200
    # One bit anywhere (the key id, the account named, the expiry, the MAC), or the payload of
    # one account under another's signature: refused, and nothing of it is repeated back.
    region, text = user.token.split(".", 1)
    _, theirs = stranger.token.split(".", 1)
    assert len(text) > 64 and len(theirs) > 64  # signed, not random (43 characters, looked up)
    spliced = f"{region}.{theirs[:-43]}{text[-43:]}"
    for token in (*(altered(user.token, index) for index in (2, 60, 120, -1)), spliced):
        answer = await api.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer" and token not in answer.text
    assert await me(api, user.token) == 200 and await me(api, stranger.token) == 200

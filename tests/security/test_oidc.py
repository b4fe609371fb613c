"""Attacks on sign-in with OpenID Connect (issue 36), against the platform's real provider: a
callback whose `state` another browser started (login CSRF), a provider code (and its state) sent
twice, an address the provider did not verify, which must not reach the account holding it, and
another account listing or unlinking someone's linked identity.
Forged ID tokens (another audience, issuer or nonce; expired; a key not in the JWKS) are refused
one level down, in services/accounts/tests/unit/test_oidc_id_token.py."""

from __future__ import annotations

import uuid

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, System, verify_email
from docstore_devplatform.oidc import finish_at_gateway, session_after, sign_in_at_provider

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(system: System) -> str:
    if not system.oidc_env:
        pytest.skip("oidc-provider is not installed (scripts/bootstrap)")
    return system.gateway


def fresh_address(prefix: str = "sec") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def test_a_callback_without_the_browsers_state_cookie_is_refused(gateway: str) -> None:
    victim_trip = sign_in_at_provider(gateway, fresh_address())
    attacker_trip = sign_in_at_provider(gateway, fresh_address())
    # The attacker's code and state, landed in the victim's browser (whose cookie holds its own state).
    forged = {"callback": attacker_trip["callback"], "cookies": victim_trip["cookies"]}
    refused = finish_at_gateway(gateway, forged)
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("oidc-state-mismatch")
    assert "refresh" not in refused.headers.get("set-cookie", "")  # no session for anyone
    no_cookie = finish_at_gateway(gateway, {"callback": attacker_trip["callback"], "cookies": {}})
    assert no_cookie.status_code == 400
    # A browser is sent back to the login page, which says why; still no session.
    as_browser = httpx.get(str(attacker_trip["callback"]), headers={"Accept": "text/html"}, timeout=40)
    assert as_browser.status_code == 303
    assert as_browser.headers["location"] == "/#/login?sign_in_error=oidc-state-mismatch"
    assert "refresh" not in as_browser.headers.get("set-cookie", "")
    # The victim's own trip still works: nothing of the attempt was spent on it.
    assert finish_at_gateway(gateway, victim_trip).status_code == 303


def test_a_code_and_state_work_once(gateway: str) -> None:
    trip = sign_in_at_provider(gateway, fresh_address())
    first = finish_at_gateway(gateway, trip)
    assert first.status_code == 303, first.text
    assert session_after(gateway, first).status_code == 200
    replayed = finish_at_gateway(gateway, trip)
    assert replayed.status_code == 400, replayed.text
    assert "refresh" not in replayed.headers.get("set-cookie", "")


async def test_an_address_the_provider_did_not_verify_never_reaches_the_account_holding_it(
    gateway: str, api: httpx.AsyncClient
) -> None:
    # A password account whose address (verified here) the provider lists as unverified for its user.
    address = fresh_address("unverified")
    username = f"u{uuid.uuid4().hex[:10]}"
    created = await api.post(
        "/v1/accounts", json={"username": username, "email": address, "password": PASSWORD, "plan": "free"}
    )
    assert created.status_code == 201, created.text
    await verify_email(api, address)
    refused = finish_at_gateway(gateway, sign_in_at_provider(gateway, address))
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("oidc-email-unverified")
    assert "refresh" not in refused.headers.get("set-cookie", "")
    # The account is untouched: its password still signs in, as itself.
    login = await api.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201 and login.json()["account_id"] == created.json()["account_id"]


async def test_nobody_lists_or_unlinks_another_accounts_identity(gateway: str, api: httpx.AsyncClient) -> None:
    owner_session = session_after(gateway, finish_at_gateway(gateway, sign_in_at_provider(gateway, fresh_address())))
    assert owner_session.status_code == 200, owner_session.text
    owner = {"Authorization": f"Bearer {owner_session.json()['token']}"}
    [linked] = (await api.get("/v1/account/identities", headers=owner)).json()["items"]
    name = f"s{uuid.uuid4().hex[:10]}"  # a stranger with a password (its address need not be verified)
    made = await api.post(
        "/v1/accounts", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD, "plan": "free"}
    )
    assert made.status_code == 201, made.text
    login = await api.post("/v1/sessions", json={"username": name, "password": PASSWORD})
    stranger = {"Authorization": f"Bearer {login.json()['token']}"}

    theirs = await api.get("/v1/account/identities", headers=stranger)
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    for who in (stranger, {}):
        refused = await api.delete(f"/v1/account/identities/{linked['identity_id']}", headers=who)
        assert refused.status_code in (401, 404), refused.text
        assert linked["identity_id"] not in refused.text
    # The owner's identity is still linked, and is still the account's only way in (no password).
    [still] = (await api.get("/v1/account/identities", headers=owner)).json()["items"]
    assert still["identity_id"] == linked["identity_id"] and still["can_unlink"] is False
    last = await api.delete(f"/v1/account/identities/{linked['identity_id']}", headers=owner)
    assert last.status_code == 409 and last.json()["type"].endswith("last-way-in"), last.text

"""Sign in with OpenID Connect (issue 36) against the platform's real OpenID provider
(`oidc-provider`, docstore_devplatform.oidc): start at the gateway, the provider's login form, the
callback, and the same session a password gives; the first sign-in links an account by its
verified address or creates one, later ones find the link."""

from __future__ import annotations

import uuid

import httpx
import pytest

from docstore_devplatform.e2e import System, sign_up
from docstore_devplatform.oidc import finish_at_gateway, session_after, sign_in_at_provider

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(system: System) -> str:
    if not system.oidc_env:
        pytest.skip("oidc-provider is not installed (scripts/bootstrap)")
    return system.gateway


def signed_in(gateway: str, login: str) -> dict:
    done = finish_at_gateway(gateway, sign_in_at_provider(gateway, login))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/#/"
    refreshed = session_after(gateway, done)
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["token"]
    account = httpx.get(f"{gateway}/v1/account", headers={"Authorization": f"Bearer {token}"}, timeout=40)
    assert account.status_code == 200, account.text
    return account.json()


def test_a_new_person_gets_an_account_and_comes_back_to_it(gateway: str) -> None:
    address = f"ann-{uuid.uuid4().hex[:8]}@example.org"
    first = signed_in(gateway, address)
    assert first["email"] == address and first["email_verified"] is True
    assert first["username"] == address.split("@")[0]
    again = signed_in(gateway, address)
    assert again["account_id"] == first["account_id"]


async def test_the_first_sign_in_links_the_account_that_holds_the_verified_address(
    gateway: str, api: httpx.AsyncClient
) -> None:
    user = await sign_up(api)  # a password account whose address is verified
    account = signed_in(gateway, user.email)
    assert account["account_id"] == user.account_id
    assert account["username"] == user.username

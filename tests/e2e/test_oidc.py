"""Sign in with OpenID Connect (issue 36) against the platform's real OpenID provider
(`oidc-provider`, docstore_devplatform.oidc): start at the gateway, the provider's login form, the
callback, and the same session a password gives; the first sign-in links an account by its
verified address or creates one, later ones find the link. At the region that is not the account's
home, a sign-in is sent home (its replica names the identity, or home holds the address)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from docstore_devplatform.e2e import REGION_A, REGION_B, System, sign_up
from docstore_devplatform.oidc import finish_at_gateway, session_after, sign_in_at_provider
from docstore_devplatform.testing import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mongo(endpoints) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    yield client
    await client.close()


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


async def test_a_sign_in_at_the_region_that_is_not_home_is_sent_home_and_makes_no_second_account(
    gateway: str, region_b: System, api: httpx.AsyncClient, mongo
) -> None:
    home_start = f"{gateway}/v1/sessions/oidc/start"
    b_accounts = mongo[f"docstore_accounts_{REGION_B.replace('-', '_')}"]
    # An identity linked at home (a new account there): region B's replica of it names the identity.
    address = f"far-{uuid.uuid4().hex[:8]}@example.org"
    account = signed_in(gateway, address)
    replica = await eventually(
        lambda: b_accounts.replicas.find_one({"_id": account["account_id"], "oidc_identities.0": {"$exists": True}}),
        what="region B's replica naming the identity",
    )
    a_accounts = mongo[f"docstore_accounts_{REGION_A.replace('-', '_')}"]
    at_home = await a_accounts.accounts.find_one({"_id": account["account_id"]})
    assert replica["oidc_identities"] == at_home["oidc_identities"] and len(at_home["oidc_identities"]) == 1
    sent = finish_at_gateway(region_b.gateway, sign_in_at_provider(region_b.gateway, address))
    assert (sent.status_code, sent.headers.get("location")) == (303, home_start), sent.text
    assert "refresh" not in sent.headers.get("set-cookie", "")

    # A password account at home whose verified address the provider vouches for, first seen at B.
    user = await sign_up(api)
    sent = finish_at_gateway(region_b.gateway, sign_in_at_provider(region_b.gateway, user.email))
    assert (sent.status_code, sent.headers.get("location")) == (303, home_start), sent.text
    for held in (address, user.email):  # B made no second account of either
        assert await b_accounts.accounts.find_one({"email": held}) is None

"""Linked OpenID identities on the real MongoDB (issue 36): the owner's list with the last sign-in,
unlink refused as the last way in until a password is set through the reset mail (the way the
refusal names), then unlinked with its audit event; another account's id is 404; a replica that
names an identity sends its sign-in home."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from docstore_accounts.domain.oidc import identity_id
from docstore_accounts.service_layer.oidc import links_in
from docstore_events.identities import AccountIdentityUnlinked

Harness = Any  # the fixture's type, defined in conftest.py (not importable under --import-mode=importlib)

pytestmark = pytest.mark.integration

ISSUER = "https://id.example.org"
NEW_PASSWORD = "copper lantern meadow 2231"


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, kind: str, *, account_id: str, to: str, **fields: Any) -> bool:
        self.sent.append({"kind": kind, "account_id": account_id, "to": to, **fields})
        return True


async def _created_by_provider(accounts: Harness, subject: str) -> tuple[str, str]:
    """An account as a provider's first sign-in makes it: no password, the identity linked."""
    name = f"oidc{uuid.uuid4().hex[:10]}"

    async def also(tx: Any, account: Any) -> None:
        await links_in(tx).link(ISSUER, subject, account.id)

    account = await accounts.services.accounts.sign_up_verified(
        username=name, email=f"{name}@example.com", plan="free", also=also
    )
    return str(account.id), name


async def test_list_and_unlink_with_the_last_way_in_kept(accounts: Harness) -> None:
    mailer = RecordingMailer()
    accounts.services.account_security.mailer = mailer
    subject = uuid.uuid4().hex
    ada, name = await _created_by_provider(accounts, subject)
    other, _ = await _created_by_provider(accounts, uuid.uuid4().hex)
    await accounts.services.identities.links.signed_in(ISSUER, subject, datetime.now(UTC))
    link = identity_id(ISSUER, subject)

    listed = await accounts.get("/account/identities", ada)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["identity_id"] == link and item["issuer"] == ISSUER and item["can_unlink"] is False
    assert item["linked_at"] and item["last_signed_in_at"] and subject not in listed.text
    assert (await accounts.db["accounts"].find_one({"_id": ada}))["oidc_identities"] == [link]

    # Another account's id is not found, and removes nothing.
    foreign = await accounts.http.delete(f"/account/identities/{link}", headers=accounts.headers(other))
    assert foreign.status_code == 404
    assert [i["identity_id"] for i in (await accounts.get("/account/identities", other)).json()["items"]] != [link]

    refused = await accounts.http.delete(f"/account/identities/{link}", headers=accounts.headers(ada))
    assert refused.status_code == 409 and refused.json()["type"].endswith("last-way-in")
    assert "Forgot your password?" in refused.json()["detail"]

    # The way the refusal names: the reset mail sets a first password.
    asked = await accounts.http.post("/account/password-reset", json={"username_or_email": name})
    assert asked.status_code == 202
    for _ in range(200):
        if not accounts.services.account_security._tasks:
            break
        await asyncio.sleep(0.05)
    [mail] = [m for m in mailer.sent if m["kind"] == "reset-password" and m["account_id"] == ada]
    token = re.search(r"token=([A-Za-z0-9_-]+)$", mail["link"])
    assert token
    done = await accounts.http.post(
        "/account/password-reset/confirm", json={"token": token.group(1), "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text

    assert (await accounts.get("/account/identities", ada)).json()["items"][0]["can_unlink"] is True
    unlinked = await accounts.http.delete(f"/account/identities/{link}", headers=accounts.headers(ada))
    assert unlinked.status_code == 204
    assert (await accounts.get("/account/identities", ada)).json()["items"] == []
    assert await accounts.db["oidc_links"].count_documents({"account_id": ada}) == 0
    assert (await accounts.db["accounts"].find_one({"_id": ada}))["oidc_identities"] == []
    [event] = [e for e in await accounts.emitted(AccountIdentityUnlinked) if e.account_id == ada]
    assert (event.identity_id, event.issuer) == (link, ISSUER)
    again = await accounts.http.delete(f"/account/identities/{link}", headers=accounts.headers(ada))
    assert again.status_code == 404


async def test_a_replica_naming_an_identity_sends_its_sign_in_home(accounts: Harness) -> None:
    account_id, link = uuid.uuid4().hex, identity_id(ISSUER, uuid.uuid4().hex)
    stored = await accounts.http.put(
        f"/internal/replicas/{account_id}",
        json={
            "username": f"far{uuid.uuid4().hex[:8]}",
            "home_region": "elsewhere",
            "version": 1,
            "oidc_identities": [link],
        },
        headers={"X-Replication-Secret": accounts.settings.replication_secret},
    )
    assert stored.status_code == 200, stored.text
    assert await accounts.services.reads.replicas.home_of_identity(link) == "elsewhere"
    assert await accounts.services.reads.replicas.home_of_identity(identity_id(ISSUER, "nobody")) is None

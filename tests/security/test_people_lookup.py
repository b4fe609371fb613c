"""Finding a person to share with (`GET /v1/people`, issue 37) is no account-enumeration oracle:
a prefix suggests only people the caller already shares with, an exact name tells no more than
sharing by that name does, an address finds only the account that verified exactly it, another
account's contacts stay its own, and lookups (of addresses too) are limited."""

from __future__ import annotations

import asyncio

import pytest

from docstore_devplatform.e2e import PASSWORD, sign_up, upload
from docstore_devplatform.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_suggestions_are_the_callers_own_contacts_and_lookups_are_limited(api) -> None:
    owner, grantee, attacker = await sign_up(api), await sign_up(api), await sign_up(api)
    doc = (await upload(api, owner, "contacts.txt", b"x"))["document_id"]

    async def shared():
        answer = await api.post(f"/v1/documents/{doc}/shares", headers=owner.auth, json={"username": grantee.username})
        return answer.status_code == 201 or None

    await eventually(shared)
    prefix = grantee.username[:-3]

    async def lookup(user, q: str) -> list[str]:
        found = await api.get("/v1/people", params={"q": q}, headers=user.auth)
        assert found.status_code == 200, found.text
        return [p["username"] for p in found.json()["people"]]

    # The owner's suggestions name the person it shares with, and the grantee's name the owner...
    assert await eventually(lambda: _non_empty(lookup(owner, prefix)), interval=1.0) == [grantee.username]
    # (metadata's projection learns each account from the accounts service's events: eventually)
    assert await eventually(lambda: _non_empty(lookup(grantee, owner.username[:-3])), interval=1.0) == [owner.username]
    # ...but the same prefixes suggest nobody to a stranger: no listing of accounts, nor of the
    # owner's contacts, and the owner's share list stays the owner's.
    assert await lookup(attacker, prefix) == []
    assert await lookup(attacker, "user-") == []
    assert (await api.get(f"/v1/documents/{doc}/shares", headers=attacker.auth)).status_code == 404
    # An exact name is answered, as sharing by that name would tell (and nothing about contacts).
    exact = (await api.get("/v1/people", params={"q": grantee.username}, headers=attacker.auth)).json()
    assert exact == {"people": [{"username": grantee.username, "known": False, "shareable": True, "note": None}]}

    # An exact, verified address names its account (by username: no address comes back); part of
    # one, or an address nobody verified (anyone may type any address at sign-up), names nobody.
    by_address = await api.get("/v1/people", params={"q": grantee.email.upper()}, headers=attacker.auth)
    assert by_address.json() == exact and "@" not in by_address.text
    unverified = f"nv-{grantee.username}"
    created = await api.post(
        "/v1/accounts",
        json={"username": unverified, "email": f"{unverified}@example.com", "password": PASSWORD, "plan": "free"},
    )
    assert created.status_code == 201, created.text
    local, domain = grantee.email.split("@")
    for q in (grantee.email[:-1], f"{local}@", f"@{domain}", f"{local[:-2]}@{domain}", f"{unverified}@example.com"):
        assert await lookup(attacker, q) == [], q

    # Guessing names or addresses in bulk meets the per-account limit (60 a minute), with when to
    # come back (all at once, as a script would: one at a time on a loaded machine may take over a
    # minute).
    guesses = [f"guess-{i}@example.com" if i % 10 == 0 else f"guess-{i}" for i in range(62)]
    answers = await asyncio.gather(*(api.get("/v1/people", params={"q": q}, headers=attacker.auth) for q in guesses))
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].headers["Retry-After"] == "60"
    assert limited[0].json()["type"] == "urn:docstore:problem:too-many-lookups"
    assert (await api.get("/v1/people", params={"q": prefix}, headers=owner.auth)).status_code == 200  # per account


async def _non_empty(found) -> list[str] | None:
    return (await found) or None

"""Account recovery follows the address, and an address belongs to one account (issue 33,
findings 2 and 11), on the running system.

- A reset link mailed to the old address stops working once a new address is confirmed, and the
  old address is told, with a way to report it (on main the old link set a new password: 204).
- A verified address belongs to one account, whatever its case: signing up with it, or moving
  another account to it, gets the same answer as a free address, no link reaches the address, and
  its owner alone is told (on main both went through and the second account could verify it).
"""

from __future__ import annotations

import uuid

import httpx

from docstore_devplatform.e2e import PASSWORD, mail_links, mails_to, sign_up, token_of
from docstore_devplatform.testing import eventually

RESET = "Reset your DocStore password"
CONFIRM_NEW = "Confirm your new DocStore e-mail address"
VERIFY = "Verify your DocStore e-mail address"
CHANGED = "Your DocStore e-mail address was changed"
IN_USE = "Someone tried to use your e-mail address on DocStore"


async def mail_with(address: str, subject: str, count: int = 1) -> list[dict]:
    async def found() -> list[dict] | None:
        mails = [m for m in await mails_to(address, account_mails=True) if m["subject"] == subject]
        return mails if len(mails) >= count else None

    return await eventually(found, timeout=90)


async def test_confirming_a_new_address_retires_the_reset_link_sent_to_the_old_one(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    asked = await api.post("/v1/account/password-reset", json={"username_or_email": user.username})
    assert asked.status_code == 202
    old_reset = token_of((await eventually(lambda: mail_links(user.email, RESET), timeout=90))[-1])

    new_address = f"moved-{uuid.uuid4().hex[:10]}@example.com"
    moved = await api.put("/v1/account/email", headers=user.auth, json={"password": PASSWORD, "new_email": new_address})
    assert moved.status_code == 202, moved.text
    confirm = token_of((await eventually(lambda: mail_links(new_address, CONFIRM_NEW), timeout=90))[-1])
    assert (await api.post("/v1/account/email/verify", json={"token": confirm})).status_code == 200

    stolen = await api.post(
        "/v1/account/password-reset/confirm", json={"token": old_reset, "new_password": "granite swallow evening 5820"}
    )
    assert stolen.status_code == 400, stolen.text
    login = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 201, "the old password still works: the stale link changed nothing"

    # The old address is told, with where to report it; the mail carries no link that acts.
    notice = (await mail_with(user.email, CHANGED))[-1]
    assert new_address in notice["text"] and "security@" in notice["text"]
    assert "token=" not in notice["body"]


async def test_an_address_in_use_is_refused_alike_and_only_its_owner_is_told(api: httpx.AsyncClient) -> None:
    owner = await sign_up(api)  # verified
    # Sign-up with the owner's address: the answer a free address gets (201, same fields).
    name = f"user-{uuid.uuid4().hex[:10]}"
    taken = await api.post(
        "/v1/accounts", json={"username": name, "email": owner.email, "password": PASSWORD, "plan": "free"}
    )
    free_name = f"user-{uuid.uuid4().hex[:10]}"
    free = await api.post(
        "/v1/accounts",
        json={"username": free_name, "email": f"{free_name}@example.com", "password": PASSWORD, "plan": "free"},
    )
    assert taken.status_code == free.status_code == 201, taken.text
    assert set(taken.json()) == set(free.json()) and taken.json()["email"] == owner.email

    # The owner gets "someone tried", naming no one; no verification link reaches the address.
    told = (await mail_with(owner.email, IN_USE))[-1]
    assert name not in told["body"]
    assert len(await mail_links(owner.email, VERIFY)) == 1  # the owner's own sign-up mail only

    # Another account moving to the address, in other case: the same 202, no link, the owner told.
    other = await sign_up(api)
    shouted = owner.email.upper()
    moved = await api.put("/v1/account/email", headers=other.auth, json={"password": PASSWORD, "new_email": shouted})
    assert moved.status_code == 202, moved.text
    await mail_with(shouted, IN_USE)
    assert await mail_links(shouted, CONFIRM_NEW) == []

    # A reset asked by the address reaches the owner's account only.
    intruder = await api.post("/v1/sessions", json={"username": name, "password": PASSWORD})
    assert intruder.status_code == 201
    state = await api.get("/v1/account/security", headers={"Authorization": f"Bearer {intruder.json()['token']}"})
    assert state.json()["email_verified"] is False

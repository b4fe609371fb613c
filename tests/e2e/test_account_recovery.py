"""Issue 20 end to end, through the gateway, reading the real mails from the SES stand-in (moto) and
following their links: verify an address (sharing refused before), reset a forgotten password,
change the e-mail address (notice to the old one, the change applies once the new one is confirmed)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from docstore_devplatform.e2e import PASSWORD, mail_links, mails_to, sign_up, token_of, upload
from docstore_devplatform.testing import eventually

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "amber orchard telescope 4471"


async def mails(address: str, subject: str) -> list[str]:
    return await eventually(lambda: mail_links(address, subject), timeout=120)


async def login(api: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await api.post("/v1/sessions", json={"username": username, "password": password})


async def test_sign_up_mails_a_link_that_verifies_and_unlocks_sharing(api: httpx.AsyncClient) -> None:
    friend = await sign_up(api)
    username = f"verify-{uuid.uuid4().hex[:10]}"
    address = f"{username}@example.com"
    created = await api.post("/v1/accounts", json={"username": username, "email": address, "password": PASSWORD})
    assert created.status_code == 201, created.text
    session = await login(api, username, PASSWORD)
    assert session.status_code == 201, session.text
    auth = {"Authorization": f"Bearer {session.json()['token']}"}
    from docstore_devplatform.e2e import User

    user = User(created.json()["account_id"], username, address, session.json()["token"])
    document_id = (await upload(api, user, "plan.txt", b"the plan"))["document_id"]

    async def visible() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=auth)).status_code == 200

    await eventually(visible)
    refused = await api.post(
        f"/v1/documents/{document_id}/shares", headers=auth, json={"username": friend.username, "permission": "view"}
    )
    assert refused.status_code == 403 and "verify your e-mail" in refused.json()["detail"]
    assert (await api.get("/v1/account/security", headers=auth)).json()["email_verified"] is False

    [link] = await mails(address, "Verify your DocStore e-mail address")
    assert link.startswith(api.base_url.scheme) or "/#/verify-email?token=" in link
    verified = await api.post("/v1/account/email/verify", json={"token": token_of(link)})
    assert verified.status_code == 200, verified.text
    assert (await api.post("/v1/account/email/verify", json={"token": token_of(link)})).status_code == 400
    shared = await api.post(
        f"/v1/documents/{document_id}/shares", headers=auth, json={"username": friend.username, "permission": "view"}
    )
    assert shared.status_code in (200, 201), shared.text


async def test_a_forgotten_password_is_reset_by_mail(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    asked = await api.post("/v1/account/password-reset", json={"username_or_email": user.email})
    assert asked.status_code == 202
    [link] = await mails(user.email, "Reset your DocStore password")
    assert "/#/reset-password?token=" in link
    done = await api.post(
        "/v1/account/password-reset/confirm", json={"token": token_of(link), "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text
    assert (await login(api, user.username, PASSWORD)).status_code == 401
    assert (await login(api, user.username, NEW_PASSWORD)).status_code == 201
    notice = await eventually(lambda: _subjects(user.email, "Your DocStore password was changed"), timeout=120)
    assert notice
    # It says when (UTC) and from which address, and carries no link with a token.
    [text] = [
        m["text"]
        for m in await mails_to(user.email, account_mails=True)
        if m["subject"] == "Your DocStore password was changed"
    ]
    assert "UTC" in text and "127.0.0.1" in text, text
    assert "token=" not in text and NEW_PASSWORD not in text


async def _subjects(address: str, subject: str) -> bool:
    return any(mail["subject"] == subject for mail in await mails_to(address, account_mails=True))


async def test_the_address_changes_once_the_new_one_is_confirmed(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    new_address = f"moved-{uuid.uuid4().hex[:10]}@example.com"
    asked = await api.put("/v1/account/email", headers=user.auth, json={"password": PASSWORD, "new_email": new_address})
    assert asked.status_code == 202, asked.text
    assert await eventually(lambda: _subjects(user.email, "Your DocStore e-mail address is being changed"), timeout=120)
    assert (await api.get("/v1/account", headers=user.auth)).json()["email"] == user.email
    [link] = await mails(new_address, "Confirm your new DocStore e-mail address")
    confirmed = await api.post("/v1/account/email/verify", json={"token": token_of(link)})
    assert confirmed.status_code == 200, confirmed.text
    assert (await api.get("/v1/account", headers=user.auth)).json()["email"] == new_address


async def test_a_reset_asked_in_the_other_region_reaches_the_home_region(api: httpx.AsyncClient, region_b) -> None:
    """Region B holds only a replica (no address, no password): it answers as always and hands the
    request to the home region's metadata, which mails the link; the reset then works at home."""
    user = await sign_up(api)
    async with httpx.AsyncClient(base_url=region_b.gateway, timeout=40.0) as other_region:
        asked = await other_region.post("/v1/account/password-reset", json={"username_or_email": user.username})
        assert asked.status_code == 202
        unknown = await other_region.post(
            "/v1/account/password-reset", json={"username_or_email": f"nobody-{uuid.uuid4().hex[:8]}"}
        )
        assert unknown.content == asked.content
    [link] = await mails(user.email, "Reset your DocStore password")
    done = await api.post(
        "/v1/account/password-reset/confirm", json={"token": token_of(link), "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text
    assert (await login(api, user.username, NEW_PASSWORD)).status_code == 201

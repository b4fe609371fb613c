"""notify's side of issue 20 against real Kafka, MongoDB and SES (moto): the internal route sends
the token-carrying mails with the link in them (services only; nothing stored); an account whose
address is unverified gets no other mail (its notices wait) until `account.email-verified`, which
releases them and, after an e-mail change, moves mail to the new address read from metadata
(never from the event)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from docstore_devplatform.e2e import mails_to
from docstore_devplatform.testing import EventPublisher, eventually
from docstore_events import AccountCreated, QuotaExceeded
from docstore_events.credentials import AccountEmailVerified
from docstore_notify.main import create_app
from docstore_notify.settings import Settings

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def app(isolated: dict[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(**isolated, verify_sender_identity=True, sweep_interval_seconds=0.3)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def client(app: FastAPI, *, subject: str = "metadata", role: str = "service") -> httpx.AsyncClient:
    headers = app.state.internal_auth.headers(audience="notify", subject=subject, role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers)


async def test_the_internal_route_mails_the_link_and_keeps_nothing(app: FastAPI) -> None:
    address = f"verify-{uuid.uuid4().hex[:10]}@example.com"
    link = f"https://docstore.example/#/verify-email?token={uuid.uuid4().hex}{uuid.uuid4().hex}"
    body = {"account_id": "acc-1", "to": address, "link": link, "username": "ada"}
    async with client(app) as metadata:
        sent = await metadata.post("/internal/mail/verify-email", json=body)
        assert sent.status_code == 202, sent.text
        assert (await metadata.post("/internal/mail/no-such-kind", json=body)).status_code == 422
        no_link = await metadata.post("/internal/mail/reset-password", json={**body, "link": ""})
        assert no_link.status_code == 422
    async with client(app, subject="acc-1", role="user") as person:
        assert (await person.post("/internal/mail/verify-email", json=body)).status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as anonymous:
        assert (await anonymous.post("/internal/mail/verify-email", json=body)).status_code == 401

    [mail] = await eventually(lambda: mails_to(address, account_mails=True), what="the verification mail")
    assert mail["subject"] == "Verify your DocStore e-mail address"
    assert link in mail["text"] and link in mail["html"]
    db = app.state.services.runtime.db
    token = link.rsplit("=", 1)[1]
    for name in await db.list_collection_names():
        async for row in db[name].find({}):
            assert token not in str(row), f"the token is stored in {name}"

    notice = await client(app).post(
        "/internal/mail/password-changed",
        json={
            "account_id": "acc-1",
            "to": address,
            "at": datetime(2026, 11, 23, 19, 5, tzinfo=UTC).isoformat(),
            "client_address": "203.0.113.7",
        },
    )
    assert notice.status_code == 202
    changed = await eventually(lambda: _with_subject(address, "Your DocStore password was changed"), what="the notice")
    assert "Monday 23 November 2026, 19:05 UTC" in changed["text"] and "203.0.113.7" in changed["text"]


async def _with_subject(address: str, subject: str) -> dict[str, Any] | None:
    return next((m for m in await mails_to(address, account_mails=True) if m["subject"] == subject), None)


async def test_an_unverified_address_gets_no_other_mail_until_verified(
    app: FastAPI, publisher: EventPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:10]
    account_id, address, new_address = f"acc-{suffix}", f"old-{suffix}@example.com", f"new-{suffix}@example.com"
    await publisher.send(
        AccountCreated(
            account_id=account_id,
            username="ada",
            email=address,
            plan="free",
            home_region="us-west-2",
            email_verified=False,
        )
    )
    db = app.state.services.runtime.db
    await eventually(
        lambda: db["recipients"].find_one({"_id": account_id, "email_verified": False}), what="unverified recipient"
    )
    full = (
        await publisher.send(
            QuotaExceeded(account_id=account_id, plan="free", used_bytes=6 * 10**9, cap_bytes=5 * 10**9)
        )
    ).id
    await eventually(lambda: db["processed_events"].find_one({"_id": f"notify:{full}"}), what="quota event handled")
    assert (await db["notifications"].find_one({"_id": full}))["status"] == "waiting"  # held, not sent
    assert await mails_to(address, account_mails=True) == []

    # The address was changed and verified: notify asks metadata for it (stubbed here).
    async def address_of(asked: str) -> str | None:
        return new_address if asked == account_id else None

    monkeypatch.setattr(app.state.services.notifier, "addresses", address_of)
    await publisher.send(AccountEmailVerified(account_id=account_id, changed=True))
    await eventually(
        lambda: db["recipients"].find_one({"_id": account_id, "email_verified": True, "email": new_address}),
        what="verified recipient at the new address",
    )
    again = (
        await publisher.send(
            QuotaExceeded(account_id=account_id, plan="free", used_bytes=6 * 10**9, cap_bytes=5 * 10**9)
        )
    ).id
    await eventually(lambda: db["notifications"].find_one({"_id": again, "status": "sent"}), what="mail sent")
    await eventually(lambda: db["notifications"].find_one({"_id": full, "status": "sent"}), what="held mail sent")
    subjects = [m["subject"] for m in await mails_to(new_address, account_mails=True)]
    assert subjects == ["Your DocStore storage is full"] * 2  # the held one, released, and the new one
    assert await mails_to(address, account_mails=True) == []

"""notify's share-link mails against real Kafka, MongoDB and SES (moto): the expiry reminder and the
download-limit mail, once per event, under the `share_links` preference (off, digest, unsubscribe);
and `notification.preferences-changed` in the outbox when a person changes a preference."""

from __future__ import annotations

import asyncio
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
from docstore_events import AccountCreated
from docstore_events.activity import NotificationPreferencesChanged
from docstore_events.envelope import decode
from docstore_events.shares import ShareLinkExpiryNeared, ShareLinkUsed
from docstore_notify.main import create_app
from docstore_notify.settings import Settings

pytestmark = pytest.mark.integration

GATEWAY = "https://docstore.example"


@pytest_asyncio.fixture
async def app(isolated: dict[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(
        **isolated,
        verify_sender_identity=True,
        gateway_url=GATEWAY,
        sweep_interval_seconds=0.3,
        resend_after_seconds=4,
        ses_connect_timeout_seconds=1,
        ses_read_timeout_seconds=2,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def db(app: FastAPI) -> Any:
    return app.state.services.runtime.db


def api(app: FastAPI, account_id: str) -> httpx.AsyncClient:
    headers = app.state.internal_auth.headers(audience="notify", subject=account_id)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers)


async def owner(publisher: EventPublisher) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:12]
    account_id, address = f"acc-{suffix}", f"links-{suffix}@example.com"
    await publisher.send(
        AccountCreated(account_id=account_id, username="ada", email=address, plan="free", home_region="us-west-2")
    )
    return account_id, address


def expiring(account_id: str, name: str = "Budget 2026.xlsx") -> ShareLinkExpiryNeared:
    return ShareLinkExpiryNeared(
        account_id=account_id,
        link_id=f"lnk-{uuid.uuid4().hex[:8]}",
        document_id=f"doc-{uuid.uuid4().hex[:8]}",
        document_name=name,
        expires_at=datetime(2026, 11, 24, 18, 5, tzinfo=UTC),
    )


def used(account_id: str, downloads: int, *, exhausted: bool, name: str = "slides.pdf") -> ShareLinkUsed:
    return ShareLinkUsed(
        account_id=account_id,
        link_id="lnk-limit",
        document_id="doc-1",
        document_name=name,
        version=1,
        downloads=downloads,
        download_limit=3,
        exhausted=exhausted,
    )


async def handled(app: FastAPI, event_id: str) -> Any:
    """Wait until notify has applied the event (its processed-event record is there)."""
    return await eventually(
        lambda: db(app)["processed_events"].find_one({"_id": f"notify:{event_id}"}), what=f"event {event_id} handled"
    )


async def test_a_redelivered_expiry_reminder_mails_the_owner_once_with_a_way_to_extend(
    app: FastAPI, publisher: EventPublisher
) -> None:
    account_id, address = await owner(publisher)
    event = expiring(account_id)
    event_id = str(uuid.uuid4())
    await publisher.send(event, event_id=event_id)
    await publisher.send(event, event_id=event_id)  # Kafka redelivers: same event id

    [mail] = await eventually(lambda: mails_to(address, account_mails=True), what="the reminder")
    row = await eventually(
        lambda: db(app)["notifications"].find_one({"_id": event_id, "status": "sent"}), what="the row marked sent"
    )
    # A later event on the same topic and key is handled after both copies: then count.
    sentinel = (await publisher.send(expiring(account_id, name="later.txt"))).id
    await eventually(lambda: db(app)["notifications"].find_one({"_id": sentinel, "status": "sent"}), what="sentinel")
    mails = [m for m in await mails_to(address, account_mails=True) if "Budget 2026.xlsx" in m["subject"]]
    assert [m["id"] for m in mails] == [mail["id"]] == [row["message_id"]]

    assert mail["subject"] == "Your DocStore link to “Budget 2026.xlsx” expires soon"
    assert "expires on Tuesday 24 November 2026, 18:05 UTC" in mail["text"]
    assert f"extend it on your Links page: {GATEWAY}/#/links" in mail["text"]
    assert f"{GATEWAY}/#/files?open={event.document_id}" in mail["text"]
    assert f'href="{GATEWAY}/#/links"' in mail["html"]
    assert "/v1/notifications/unsubscribe/" in mail["text"]  # the same unsubscribe as every mail
    assert account_id not in mail["text"] and event.link_id not in mail["text"]


async def test_only_the_use_that_exhausts_a_link_mails_once(app: FastAPI, publisher: EventPublisher) -> None:
    account_id, address = await owner(publisher)
    for n in (1, 2):  # uses under the limit: nothing to tell
        await publisher.send(used(account_id, n, exhausted=False))
    last = used(account_id, 3, exhausted=True)
    last_id = str(uuid.uuid4())
    await publisher.send(last, event_id=last_id)
    await publisher.send(last, event_id=last_id)  # redelivered
    # Same topic and key, so the same partition: handled after everything above.
    sentinel = (await publisher.send(used(account_id, 5, exhausted=True, name="sentinel.txt"))).id
    await eventually(lambda: db(app)["notifications"].find_one({"_id": sentinel, "status": "sent"}), what="sentinel")
    await eventually(
        lambda: db(app)["notifications"].find_one({"_id": last_id, "status": "sent"}), what="the row marked sent"
    )
    mails = [m for m in await mails_to(address, account_mails=True) if "slides.pdf" in m["subject"]]
    assert len(mails) == 1, mails
    [mail] = mails
    assert mail["subject"] == "Your DocStore link to “slides.pdf” reached its download limit"
    assert "downloaded 3 times, its limit, so it no longer works" in mail["text"]
    assert f"{GATEWAY}/#/links" in mail["text"]
    assert await db(app)["notifications"].count_documents({"account_id": account_id}) == 2  # last and sentinel


async def test_share_links_off_sends_nothing_and_digest_folds_it_in(app: FastAPI, publisher: EventPublisher) -> None:
    account_id, address = await owner(publisher)
    async with api(app, account_id) as client:
        chosen = await client.put("/notifications/preferences", json={"share_links": "off"})
        assert chosen.status_code == 200 and chosen.json()["share_links"] == "off"
    await handled(app, (await publisher.send(expiring(account_id))).id)
    await handled(app, (await publisher.send(used(account_id, 3, exhausted=True))).id)
    await asyncio.sleep(1.0)  # a mail sent after the commit would land now
    assert await mails_to(address, account_mails=True) == []
    assert await db(app)["notifications"].count_documents({"account_id": account_id}) == 0

    async with api(app, account_id) as client:
        assert (await client.put("/notifications/preferences", json={"share_links": "digest"})).status_code == 200
    await handled(app, (await publisher.send(expiring(account_id, name="plan.md"))).id)
    assert await mails_to(address, account_mails=True) == []
    made = await app.state.services.notifier.send_digests()
    assert made >= 1
    [digest] = await eventually(lambda: mails_to(address, account_mails=True), what="the digest")
    assert digest["subject"] == "Your DocStore digest: 1 update"
    assert "Your public link to “plan.md” expires on" in digest["text"]


async def test_changing_preferences_records_what_changed_once(app: FastAPI) -> None:
    account_id = f"acc-{uuid.uuid4().hex[:12]}"
    async with api(app, account_id) as client:
        first = await client.put("/notifications/preferences", json={"share_links": "digest", "quota_warning": "off"})
        assert first.status_code == 200, first.text
        again = await client.put("/notifications/preferences", json={"share_links": "digest"})  # no change
        assert again.status_code == 200
    rows = (
        await db(app)["outbox"]
        .find({"headers.ce_type": NotificationPreferencesChanged.cloudevent_type()})
        .to_list(None)
    )
    [event] = [decode(row["headers"], row["value"]).data for row in rows if row["key"] == account_id.encode()]
    assert event.model_dump() == {
        "account_id": account_id,
        "changes": {"share_links": "digest", "quota_warning": "off"},
        "via": "settings",
    }
    assert b"@" not in rows[0]["value"]  # never an address

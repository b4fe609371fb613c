"""notify against real Kafka, MongoDB and SES (moto): one mail per event, whatever the order."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from docstore_devplatform.e2e import mails_to
from docstore_devplatform.testing import EventPublisher, eventually
from docstore_events import AccountCreated, FileModified, QuotaExceeded, UploadExpired
from docstore_events.notifications import FileFollowed
from docstore_notify.main import create_app
from docstore_notify.settings import Settings

pytestmark = pytest.mark.integration

GB = 1_000_000_000
SOURCE = "/docstore/us-west-2/test"


@pytest_asyncio.fixture
async def app(isolated: dict[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(
        **isolated,
        verify_sender_identity=True,
        sweep_interval_seconds=0.3,
        resend_after_seconds=4,
        ses_connect_timeout_seconds=1,
        ses_read_timeout_seconds=2,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def new_account() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:12]
    return f"acc-{suffix}", f"notify-{suffix}@example.com"


def signed_up(account_id: str, email: str) -> AccountCreated:
    return AccountCreated(account_id=account_id, username="ada", email=email, plan="free", home_region="us-west-2")


def over_quota(account_id: str, used: int = 5_300_000_000) -> QuotaExceeded:
    return QuotaExceeded(account_id=account_id, used_bytes=used, cap_bytes=5 * GB, plan="free")


def api(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def db(app: FastAPI) -> Any:
    """The service's database (the one `bootstrap` built the runtime on)."""
    return app.state.services.runtime.db


def as_account(app: FastAPI, account_id: str) -> dict[str, str]:
    """The signed identity the gateway would forward for `account_id`."""
    return app.state.internal_auth.headers(audience="notify", subject=account_id)


async def test_a_redelivered_quota_event_sends_exactly_one_mail(app: FastAPI, publisher: EventPublisher) -> None:
    account_id, email = new_account()
    await publisher.send(signed_up(account_id, email))
    event = over_quota(account_id)
    event_id = str(uuid.uuid4())
    await publisher.send(event, event_id=event_id)
    await publisher.send(event, event_id=event_id)  # Kafka redelivers: same event id
    # Same account key, same topic, so same partition: this one is handled after both copies.
    sentinel_id = (await publisher.send(over_quota(account_id, used=6 * GB))).id

    async def sentinel_sent() -> list[dict[str, Any]] | None:
        mails = await mails_to(email, account_mails=True)
        return mails if any("6 GB" in m["body"] for m in mails) else None

    # Each mail is sent in its event's handler, after its commit, before the next event: once the
    # sentinel's mail is there, a duplicate of the copies before it would be too (no guessed wait).
    mails = await eventually(sentinel_sent, what="the sentinel's mail")
    assert len(mails) == 2, mails
    assert all(m["subject"] == "Your DocStore storage is full" for m in mails)
    bodies = sorted(m["body"] for m in mails)
    assert any("5.3 GB" in body for body in bodies) and any("6 GB" in body for body in bodies)
    # On Free the plan is the limit: the mail links to the plans (the web app's Usage page).
    assert all("move to a plan with more room" in body and "/#/usage" in body for body in bodies), bodies
    assert all(account_id not in m["body"] for m in mails)

    log = db(app)["notifications"]

    async def both_recorded_sent() -> dict[str, dict[str, Any]] | None:
        # The row is marked sent just after SES accepts the mail: the sentinel's may lag its mail.
        rows = {row["_id"]: row async for row in log.find({"account_id": account_id})}
        return rows if all(row["status"] == "sent" and row["message_id"] for row in rows.values()) else None

    rows = await eventually(both_recorded_sent, what="both notifications recorded as sent")
    assert set(rows) == {event_id, sentinel_id}
    assert {row["message_id"] for row in rows.values()} == {m["id"] for m in mails}


async def test_a_quota_event_before_its_account_is_mailed_once_the_account_arrives(
    app: FastAPI, publisher: EventPublisher
) -> None:
    account_id, email = new_account()
    event_id = (await publisher.send(over_quota(account_id))).id
    log = db(app)["notifications"]
    await eventually(lambda: log.find_one({"_id": event_id, "status": "waiting"}), what="a waiting notification")
    await asyncio.sleep(1.0)
    assert await mails_to(email, account_mails=True) == []
    await publisher.send(signed_up(account_id, email))

    mails = await eventually(lambda: mails_to(email, account_mails=True), what="the quota mail")
    await asyncio.sleep(1.0)
    assert len(await mails_to(email, account_mails=True)) == len(mails) == 1
    assert mails[0]["subject"] == "Your DocStore storage is full"
    row = await eventually(lambda: log.find_one({"_id": event_id, "status": "sent"}), what="the row marked sent")
    assert row["message_id"] == mails[0]["id"] and row["attempts"] == 1


async def test_the_sweeper_sends_a_notification_left_pending_by_a_crash(app: FastAPI) -> None:
    """A crash between the commit and the send leaves a pending row: it is sent once, later."""
    account_id, email = new_account()
    await db(app)["recipients"].insert_one({"_id": account_id, "email": email})
    now = datetime.now(UTC)
    notification_id = str(uuid.uuid4())
    await db(app)["notifications"].insert_one(
        {
            "_id": notification_id,
            "account_id": account_id,
            "kind": "upload.expired",
            "params": {"filename": "holiday.mov"},
            "subject": "Your DocStore upload did not finish",
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now - timedelta(seconds=1),
        }
    )

    mails = await eventually(lambda: mails_to(email, account_mails=True), what="the swept mail")
    row = await eventually(
        lambda: db(app)["notifications"].find_one({"_id": notification_id, "status": "sent"}),
        what="the row marked sent",
    )
    await asyncio.sleep(1.0)
    assert len(await mails_to(email, account_mails=True)) == len(mails) == 1
    assert "holiday.mov" in mails[0]["body"]
    assert row["message_id"] == mails[0]["id"] and row["attempts"] == 1


async def test_notifications_route_pages_the_callers_log_only(app: FastAPI, publisher: EventPublisher) -> None:
    account_id, email = new_account()
    other_id, other_email = new_account()
    await publisher.send(signed_up(account_id, email))
    await publisher.send(signed_up(other_id, other_email))
    for n in range(3):
        await publisher.send(
            UploadExpired(account_id=account_id, upload_id=f"u{n}", document_id=f"d{n}", filename=f"f{n}.txt")
        )
    await publisher.send(over_quota(other_id))

    async def sent(account: str, count: int) -> bool:
        return await db(app)["notifications"].count_documents({"account_id": account, "status": "sent"}) == count

    await eventually(lambda: sent(account_id, 3), what="three sent notifications")
    await eventually(lambda: sent(other_id, 1), what="the other account's notification")

    async with api(app) as client:
        assert (await client.get("/notifications")).status_code == 401
        first = (await client.get("/notifications", params={"limit": 2}, headers=as_account(app, account_id))).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        assert first["next"] == "?" + urlencode({"cursor": first["next_cursor"], "limit": 2})
        second = (await client.get("/notifications" + first["next"], headers=as_account(app, account_id))).json()
        assert len(second["items"]) == 1 and second["next_cursor"] is None and second["next"] is None
        # Another account's cursor is only a position: it shows that account nothing of this one's.
        replayed = await client.get(
            "/notifications", params={"cursor": first["next_cursor"]}, headers=as_account(app, other_id)
        )
        assert replayed.status_code == 200 and all(
            item["kind"] == "quota.exceeded" for item in replayed.json()["items"]
        )
        items = first["items"] + second["items"]
        assert len({item["id"] for item in items}) == 3
        assert all(item["kind"] == "upload.expired" and item["status"] == "sent" for item in items)
        created = [item["created_at"] for item in items]
        assert created == sorted(created, reverse=True)
        assert all(email not in str(item) for item in items)

        others = (await client.get("/notifications", headers=as_account(app, other_id))).json()
        assert [item["kind"] for item in others["items"]] == ["quota.exceeded"]

        bad = await client.get("/notifications", params={"cursor": "nope"}, headers=as_account(app, account_id))
        assert bad.status_code == 422

        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["checks"] == {"mongodb": "ok", "kafka": "ok", "ses": "ok"}


async def test_a_mail_ses_refuses_is_marked_failed_not_retried(
    isolated: dict[str, str], publisher: EventPublisher
) -> None:
    """An unverified sender is a permanent refusal: the row says failed, nothing loops."""
    settings = Settings(
        **isolated,
        mail_from=f"Nobody <unverified-{uuid.uuid4().hex[:8]}@example.net>",
        verify_sender_identity=False,
        sweep_interval_seconds=0.3,
        resend_after_seconds=4,
        ses_connect_timeout_seconds=1,
        ses_read_timeout_seconds=2,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        account_id, email = new_account()
        await publisher.send(signed_up(account_id, email))
        event_id = (await publisher.send(over_quota(account_id))).id
        log = db(application)["notifications"]
        row = await eventually(lambda: log.find_one({"_id": event_id, "status": "failed"}), what="a failed row")
        assert row["attempts"] == 1 and row["last_error"]
        assert await mails_to(email, account_mails=True) == []


UNSUBSCRIBE_LINK = re.compile(r"https?://[^\s\"<>]+/v1/notifications/unsubscribe/([A-Za-z0-9_-]+)")


async def test_mails_carry_one_click_unsubscribe_and_only_the_post_unsubscribes(
    app: FastAPI, publisher: EventPublisher
) -> None:
    account_id, email_address = new_account()
    await publisher.send(signed_up(account_id, email_address))
    await publisher.send(over_quota(account_id))
    [mail] = await eventually(lambda: mails_to(email_address, account_mails=True), what="the quota mail")

    headers = mail["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header_link = re.fullmatch(r"<(.+)>", headers["List-Unsubscribe"]).group(1)
    gateway_url = app.state.services.settings.gateway_url.rstrip("/")
    token = UNSUBSCRIBE_LINK.fullmatch(header_link).group(1)
    assert header_link == f"{gateway_url}/v1/notifications/unsubscribe/{token}"
    assert header_link in mail["body"]  # the same link as in both parts
    assert account_id not in str(headers)
    path = f"/notifications/unsubscribe/{token}"

    async with api(app) as client:
        # A scanner or preview opening the link: a page with a button, nothing changes.
        for _ in range(2):
            page = await client.get(path)
            assert page.status_code == 200
            assert '<form method="post">' in page.text and "“storage full” mails" in page.text
            assert page.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        prefs = await client.get("/notifications/preferences", headers=as_account(app, account_id))
        assert prefs.json()["quota_exceeded"] == "instant"

        # What a mail client sends for one-click unsubscribe (RFC 8058), without any login.
        done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        prefs = (await client.get("/notifications/preferences", headers=as_account(app, account_id))).json()
        assert prefs["quota_exceeded"] == "off" and prefs["quota_restored"] == "instant"
        again = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert again.status_code == 200  # idempotent

    # And it holds: the next "storage full" event records no mail.
    event_id = (await publisher.send(over_quota(account_id, used=7 * GB))).id
    processed = db(app)["processed_events"]
    await eventually(lambda: processed.find_one({"_id": f"notify:{event_id}"}), what="the event handled")
    assert await db(app)["notifications"].find_one({"_id": event_id}) is None
    assert len(await mails_to(email_address, account_mails=True)) == 1


@pytest.mark.parametrize(
    "token",
    [
        "X%1C",  # a control character
        "%0B" * 43,
        "%C3%A9" * 43,  # non-ASCII, the right length in characters
        "A" * 42 + "%C3%A9",
        "A" * 43,  # the right shape, never signed
        "A" * 500,
        "..%5C..%5Cadmin",  # backslashes
        "%E2%80%AE" + "A" * 42,  # a bidi override
    ],
)
async def test_a_broken_unsubscribe_link_is_a_404_page_never_a_500(app: FastAPI, token: str) -> None:
    async with api(app) as client:
        for method in ("GET", "POST"):
            response = await client.request(
                method,
                f"/notifications/unsubscribe/{token}",
                data={"List-Unsubscribe": "One-Click"} if method == "POST" else None,
            )
            assert response.status_code == 404, (method, response.text)
            assert "This link does not work" in response.text


async def test_running_digests_is_for_services_only(app: FastAPI) -> None:
    auth = app.state.internal_auth
    async with api(app) as client:
        assert (await client.post("/internal/digests/run")).status_code == 401
        assert (await client.post("/internal/digests/run", headers={"X-Account-Id": "acc-1"})).status_code == 401
        as_user = auth.headers(audience="notify", subject="acc-1")
        assert (await client.post("/internal/digests/run", headers=as_user)).status_code == 403
        as_service = auth.headers(audience="notify", subject="tests", role="service")
        ran = await client.post("/internal/digests/run", headers=as_service)
        assert ran.status_code == 200 and ran.json() == {"digests": 0}


async def test_a_followed_file_change_mail_says_who_links_to_the_document_and_has_a_text_part(
    isolated: dict[str, str], publisher: EventPublisher
) -> None:
    settings = Settings(**isolated, coalesce_window_seconds=0, gateway_url="https://docs.example.org/")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        follower, follower_email = new_account()
        editor, editor_email = new_account()
        document_id = f"doc-{uuid.uuid4().hex[:8]}"
        await publisher.send(signed_up(follower, follower_email))
        await publisher.send(
            AccountCreated(
                account_id=editor, username="grace", email=editor_email, plan="free", home_region="us-west-2"
            )
        )
        await publisher.send(FileFollowed(account_id=follower, document_id=document_id, owner_id=editor))
        processed = db(application)["processed_events"]
        editor_known = await eventually(
            lambda: db(application)["recipients"].find_one({"_id": editor, "username": "grace"}), what="the editor"
        )
        assert editor_known["email"] == editor_email
        await eventually(lambda: db(application)["follows"].find_one({"document_id": document_id}), what="the follow")
        sent = await publisher.send(
            FileModified(
                account_id=editor, document_id=document_id, version=2, name="plan.odt", size=10, actor_id=editor
            )
        )
        await eventually(lambda: processed.find_one({"_id": f"notify:{sent.id}"}), what="the change handled")
        [mail] = await eventually(lambda: mails_to(follower_email, account_mails=True), what="the change mail")

    message = mail["headers"]
    assert mail["subject"] == "grace changed “plan.odt” on DocStore"
    text = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text is not None and html_part is not None  # both parts, as the stand-in received them
    link = f"https://docs.example.org/#/files?open={document_id}"
    assert "grace changed it" in text.get_content() and link in text.get_content()
    assert f'href="{link}"' in html_part.get_content() and "<strong>grace</strong>" in html_part.get_content()
    assert editor not in mail["body"] and follower not in mail["body"]

"""Quota warnings, the cap, plans, following, digests, unsubscribe and the operator
dashboard, through the gateway (mails read back from moto's SES)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from docstore_devplatform.e2e import mails_to as shared_mails_to
from docstore_kit.auth import InternalAuth
from docstore_notify.settings import Settings as NotifySettings

from .conftest import FREE_CAP_BYTES, User, eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UNSUBSCRIBE = re.compile(r"/v1/notifications/unsubscribe/([A-Za-z0-9_-]+)")


async def mails_to(endpoints, user: User) -> list[dict]:
    """The mails `user` got, apart from signing up and in."""
    return await shared_mails_to(user.email)


async def subjects(endpoints, user: User) -> list[str]:
    return [m["subject"] for m in await mails_to(endpoints, user)]


async def mail_with(endpoints, user: User, subject: str) -> dict:
    async def probe():
        found = [m for m in await mails_to(endpoints, user) if m["subject"] == subject]
        return found[0] if found else None

    return await eventually(probe, timeout=40)


async def usage_of(api, user: User) -> dict:
    return (await api.get("/v1/usage", headers=user.auth)).json()


async def used(api, user: User, expected: int) -> dict:
    async def probe():
        body = await usage_of(api, user)
        return body if body["used_bytes"] == expected else None

    return await eventually(probe)


async def grant(api, user: User, size: int, name: str = "f.bin") -> httpx.Response:
    return await api.post(
        "/v1/uploads",
        headers=user.auth,
        json={"filename": name, "size": size, "content_type": "application/octet-stream"},
    )


async def _plan_is(api, user: User, plan: str) -> bool:
    return (await usage_of(api, user))["plan"] == plan


async def post_to_s3(form: dict, data: bytes) -> None:
    async with httpx.AsyncClient() as s3:
        posted = await s3.post(
            form["url"], data=form["fields"], files={"file": ("f", data, "application/octet-stream")}
        )
    assert posted.status_code == 201, posted.text


async def test_a_free_account_fills_up_warned_twice_refused_then_restored(api, endpoints) -> None:
    user = await sign_up(api, plan="free")
    first = await upload(api, user, "a.bin", b"a" * (FREE_CAP_BYTES * 80 // 100), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 80 // 100)
    await mail_with(endpoints, user, "Your DocStore storage is 80% full")
    await upload(api, user, "b.bin", b"b" * (FREE_CAP_BYTES * 15 // 100), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 95 // 100)
    warning = await mail_with(endpoints, user, "Your DocStore storage is 95% full")
    assert "0.95" not in warning["subject"] and user.username not in warning["body"]

    # Two grants that each fit the room left but not together: the first holds its room.
    room = (await usage_of(api, user))["room_bytes"]
    held = await grant(api, user, room * 8 // 10)
    assert held.status_code == 201, held.text
    assert (await grant(api, user, room * 8 // 10)).status_code == 413
    assert (await api.delete(f"/v1/uploads/{held.json()['upload_id']}", headers=user.auth)).status_code == 200

    # Grants never pass the cap, so an account goes over it by moving to a smaller plan.
    assert (await api.put("/v1/account/plan", json={"plan": "premium"}, headers=user.auth)).status_code == 200
    await eventually(lambda: _plan_is(api, user, "premium"))
    await upload(api, user, "c.bin", b"c" * (FREE_CAP_BYTES * 10 // 100), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 105 // 100)
    assert (await api.put("/v1/account/plan", json={"plan": "free"}, headers=user.auth)).status_code == 200
    await mail_with(endpoints, user, "Your DocStore storage is full")
    assert (await usage_of(api, user))["over_quota"]
    refused = await grant(api, user, 1)
    assert refused.status_code in (403, 409, 413, 507), refused.text
    assert "quota" in refused.text.lower() or "storage" in refused.text.lower()

    gone = await api.delete(f"/v1/documents/{first['document_id']}", params={"permanent": "true"}, headers=user.auth)
    assert gone.status_code == 204, gone.text
    await mail_with(endpoints, user, "Your DocStore storage is available again")
    body = await usage_of(api, user)
    assert not body["over_quota"] and body["room_bytes"] > 0
    assert (await grant(api, user, 1000)).status_code == 201
    await asyncio.sleep(2)  # duplicates would be here by now
    assert sorted(await subjects(endpoints, user)) == sorted(
        [
            "Your DocStore storage is 80% full",
            "Your DocStore storage is 95% full",
            "Your DocStore storage is full",
            "Your DocStore storage is available again",
        ]
    )


async def test_plan_upgrade_and_downgrade_take_effect_at_once(api, endpoints) -> None:
    user = await sign_up(api, plan="free")
    await upload(api, user, "a.bin", b"a" * (FREE_CAP_BYTES * 7 // 10), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 7 // 10)
    assert (await grant(api, user, FREE_CAP_BYTES)).status_code != 201

    assert (await api.put("/v1/account/plan", json={"plan": "premium"}, headers=user.auth)).status_code == 200

    async def premium():
        body = await usage_of(api, user)
        return body if body["plan"] == "premium" else None

    body = await eventually(premium)
    assert body["cap_bytes"] > FREE_CAP_BYTES
    await upload(api, user, "b.bin", b"b" * (FREE_CAP_BYTES * 6 // 10), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 13 // 10)

    assert (await api.put("/v1/account/plan", json={"plan": "free"}, headers=user.auth)).status_code == 200

    async def flagged():
        body = await usage_of(api, user)
        return body if body["plan"] == "free" and body["over_quota"] else None

    body = await eventually(flagged)
    assert body["room_bytes"] == 0
    await mail_with(endpoints, user, "Your DocStore storage is full")
    assert (await grant(api, user, 1)).status_code != 201


async def test_a_digest_collects_what_the_user_chose_to_get_later(api, endpoints, system) -> None:
    user = await sign_up(api, plan="free")
    prefs = await api.put("/v1/notifications/preferences", json={"quota_warning": "digest"}, headers=user.auth)
    assert prefs.status_code == 200, prefs.text
    assert prefs.json()["quota_warning"] == "digest" and prefs.json()["quota_exceeded"] == "instant"
    await upload(api, user, "a.bin", b"a" * (FREE_CAP_BYTES * 85 // 100), "application/octet-stream")
    await used(api, user, FREE_CAP_BYTES * 85 // 100)
    # Not instant, without a sleep: the digest below holds the warning, so notify queued that
    # event's row for the digest, and a row that was sent at once is never in a digest; the
    # mails are then exactly the digest.

    async def digest_sent():
        async with httpx.AsyncClient() as notify:
            as_service = InternalAuth.from_settings(NotifySettings()).headers(
                audience="notify", subject="e2e-tests", role="service"
            )
            ran = await notify.post(f"{system.urls['notify']}/internal/digests/run", headers=as_service)
            assert ran.status_code == 200, ran.text
        return await mails_to(endpoints, user)

    mails = await eventually(digest_sent)
    assert [m["subject"] for m in mails] == ["Your DocStore digest: 1 update"]
    assert "80% full" in mails[0]["body"] and UNSUBSCRIBE.search(mails[0]["body"])


async def test_unsubscribe_link_works_without_logging_in(api, endpoints) -> None:
    user = await sign_up(api, plan="free")
    await upload(api, user, "a.bin", b"a" * (FREE_CAP_BYTES * 81 // 100), "application/octet-stream")
    mail = await mail_with(endpoints, user, "Your DocStore storage is 80% full")
    token = UNSUBSCRIBE.search(mail["body"]).group(1)
    assert user.account_id not in mail["body"]

    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert UNSUBSCRIBE.search(mail["headers"]["List-Unsubscribe"]).group(1) == token

    page = await api.get(f"/v1/notifications/unsubscribe/{token}")  # no Authorization header
    assert page.status_code == 200, page.text
    assert '<form method="post">' in page.text  # opening the link only asks (mail scanners open links)
    prefs = (await api.get("/v1/notifications/preferences", headers=user.auth)).json()
    assert prefs["quota_warning"] == "instant"

    done = await api.post(f"/v1/notifications/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    assert "unsubscribed" in done.text
    prefs = (await api.get("/v1/notifications/preferences", headers=user.auth)).json()
    assert prefs["quota_warning"] == "off" and prefs["quota_exceeded"] == "instant"
    assert (await api.get(f"/v1/notifications/unsubscribe/{token[:-2]}xx")).status_code == 404


async def test_a_followed_file_changed_by_someone_else_gives_one_mail(api, endpoints) -> None:
    owner, follower = await sign_up(api), await sign_up(api)
    doc = await upload(api, owner, "plan.txt", b"v1")

    async def at_version(n: int) -> bool:
        current = await api.get(f"/v1/documents/{doc['document_id']}", headers=owner.auth)
        return current.status_code == 200 and current.json()["version"] == n

    await eventually(lambda: at_version(1))
    shared = await api.post(
        f"/v1/documents/{doc['document_id']}/shares",
        headers=owner.auth,
        json={"username": follower.username, "permission": "edit"},
    )
    assert shared.status_code in (200, 201), shared.text
    followed = await api.put(f"/v1/documents/{doc['document_id']}/follow", headers=follower.auth)
    assert followed.status_code in (200, 201, 204), followed.text
    owner_follows = await api.put(f"/v1/documents/{doc['document_id']}/follow", headers=owner.auth)
    assert owner_follows.status_code in (200, 201, 204)
    for n in range(2, 12):  # ten quick versions by the owner, each based on the one before
        await eventually(lambda: at_version(n - 1))
        g = await api.post(
            "/v1/uploads",
            headers=owner.auth,
            json={
                "filename": "plan.txt",
                "size": 2,
                "content_type": "text/plain",
                "document_id": doc["document_id"],
                "base_version": n - 1,
            },
        )
        assert g.status_code == 201, g.text
        await post_to_s3(g.json()["form"], f"v{n}".encode()[:2].ljust(2))
        assert (await api.post(f"/v1/uploads/{g.json()['upload_id']}/complete", headers=owner.auth)).status_code == 200

    async def change_mails() -> list[dict]:
        # The share itself mails the follower too ("… shared “plan.txt” with you", issue 37).
        return [m for m in await mails_to(endpoints, follower) if " changed " in m["subject"]]

    def coalesced(mail: dict) -> tuple[int, int]:
        """(the version a change mail names, how many changes it folded)."""
        text = mail["text"] or mail["body"]
        times = re.search(r"changed (\d+) times", text)
        return int(re.search(r"at version (\d+)", text).group(1)), int(times.group(1)) if times else 1

    async def up_to_the_last() -> list[dict]:
        found = await change_mails()
        return found if any(coalesced(m)[0] == 11 for m in found) else []

    # Waiting on the last change, not on a clock: once a mail names version 11, the changes before
    # it (one account's events, in order on their topic) have reached notify too, so no change is
    # left to make another mail (a redelivered event is dropped by its id: notify's own tests).
    mails = await eventually(up_to_the_last, timeout=90)
    found = sorted(coalesced(m) for m in mails)
    # Each change in one mail at most, and changes folded: the ten quick ones fall into one window
    # (10 s in the shared system), so one mail; a further mail only for the changes that reached
    # notify after the one before was sent (a loaded machine: at load 20 the ten took longer).
    versions = [version for version, _ in found]
    assert versions == sorted(set(versions)) and versions[-1] == 11, found
    assert sum(count for _, count in found) <= 10 and max(count for _, count in found) > 1, found
    assert "plan.txt" in mails[0]["subject"]
    assert len(await mails_to(endpoints, follower)) == 1 + len(mails)  # those and the share's
    # Who changed it (a username, not an id), and a link into the web app, in both parts.
    assert mails[0]["subject"] == f"{owner.username} changed “plan.txt” on DocStore"
    text, html = (mails[0]["headers"].get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    link = f"/#/files?open={doc['document_id']}"
    assert link in text.get_content() and link in html.get_content()
    assert owner.account_id not in mails[0]["body"]
    assert await mails_to(endpoints, owner) == []  # the owner made the changes


async def test_the_operator_dashboard_is_for_admins_only(api) -> None:
    user = await sign_up(api)
    assert (await api.get("/v1/admin/totals", headers=user.auth)).status_code == 403
    # Admins are named by account id; the e2e system grants "admin-e2e" when it starts (provision_admin).
    created = await api.post(
        "/v1/accounts",
        json={"username": "admin-e2e", "email": "admin-e2e@example.com", "password": "correct horse battery staple"},
    )
    assert created.status_code in (201, 409)
    login = await api.post("/v1/sessions", json={"username": "admin-e2e", "password": "correct horse battery staple"})
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    totals = await api.get("/v1/admin/totals", headers=admin)
    assert totals.status_code == 200 and totals.json()["all"]["accounts"] >= 1
    assert (await api.get("/v1/admin/accounts/top", headers=admin)).status_code == 200
    assert (await api.get("/v1/admin/accounts/over-quota", headers=admin)).status_code == 200
    assert (await api.post("/v1/admin/reconciliation", headers=admin)).status_code == 200
    assert (await api.get("/v1/admin/dlq", headers=admin)).status_code == 200

"""The audit trail on the real system: what a person does through the gateway shows up in their
activity, in order, with the address the gateway saw and their user agent; nobody else sees it;
an admin exports it as JSON Lines and the chain verifies."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from .conftest import PASSWORD, User, eventually, sign_up, upload

ADMIN = "admin-e2e"  # made an administrator by id when the e2e system starts (devplatform provision_admin)


async def admin_headers(api: httpx.AsyncClient) -> dict[str, str]:
    created = await api.post(
        "/v1/accounts",
        json={"username": ADMIN, "email": f"{ADMIN}@example.com", "password": "correct horse battery staple"},
    )
    assert created.status_code in (201, 409), created.text
    login = await api.post("/v1/sessions", json={"username": ADMIN, "password": "correct horse battery staple"})
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def activity(api: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    """Every record of the user's activity, oldest first (following `next_cursor`)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await api.get(
            "/v1/account/activity", headers=user.auth, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) >= {"items", "next_cursor", "next"}
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return sorted(items, key=lambda item: item["seq"])


def actions_of(items: list[dict[str, Any]], wanted: set[str]) -> list[str]:
    return [item["action"] for item in items if item["action"] in wanted]


async def test_what_a_person_does_is_their_activity_in_order_from_where_they_did_it(api: httpx.AsyncClient) -> None:
    agent = f"DocStoreE2E/{uuid.uuid4().hex[:8]}"
    api.headers["User-Agent"] = agent
    user = await sign_up(api)
    done = await upload(api, user, "plan.txt", b"the plan")
    document_id = done["document_id"]

    async def document_recorded() -> bool:  # metadata records the upload from its event
        return (await api.get(f"/v1/documents/{document_id}", headers=user.auth)).status_code == 200

    await eventually(document_recorded, timeout=90, interval=0.3)
    renamed = await api.patch(f"/v1/documents/{document_id}", headers=user.auth, json={"name": "final-plan.txt"})
    assert renamed.status_code == 200, renamed.text
    trashed = await api.delete(f"/v1/documents/{document_id}", headers=user.auth)
    assert trashed.status_code in (200, 204), trashed.text

    expected = ["account.created", "upload.initiated", "upload.completed", "file.details-changed", "file.trashed"]

    async def recorded() -> list[dict[str, Any]] | None:
        items = await activity(api, user)
        return items if actions_of(items, set(expected)) == expected else None

    items = await eventually(recorded, timeout=90, interval=0.5)
    by_action = {item["action"]: item for item in items}
    # Each record is the caller's, chained, from this region, and says from where it was done.
    assert [item["seq"] for item in items] == list(range(items[0]["seq"], items[0]["seq"] + len(items)))
    for action in ("account.created", "upload.initiated", "file.details-changed", "file.trashed"):
        record = by_action[action]
        assert record["outcome"] == "success" and record["actor"] == {"account_id": user.account_id}
        assert record["client_address"] in ("127.0.0.1", "::1"), record
        assert record["user_agent"] == agent, record
        assert record["region"] == "us-west-2"
    assert by_action["file.details-changed"]["document_id"] == document_id
    assert by_action["file.details-changed"]["details"]["name"] == "final-plan.txt"
    assert by_action["upload.completed"]["details"]["filename"] == "plan.txt"
    assert by_action["file.trashed"]["document_id"] == document_id
    # Filtering by action, and the chain verifies.
    only = await activity(api, user, action="file.trashed")
    assert [item["action"] for item in only] == ["file.trashed"]
    verdict = (await api.get("/v1/account/activity/verify", headers=user.auth)).json()
    assert verdict["ok"] is True and verdict["checked"] >= len(expected) and verdict["broken_at"] is None


async def test_another_accounts_activity_is_not_visible(api: httpx.AsyncClient) -> None:
    ada, bob = await sign_up(api), await sign_up(api)
    await upload(api, ada, "secret-plans.txt", b"ada's")

    async def ada_has_upload() -> bool:
        return "upload.completed" in actions_of(await activity(api, ada), {"upload.completed"})

    await eventually(ada_has_upload, timeout=90, interval=0.5)
    seen_by_bob = await activity(api, bob)
    assert all(item["account_id"] == bob.account_id for item in seen_by_bob)
    assert "secret-plans.txt" not in json.dumps(seen_by_bob)
    # Bob cannot ask for Ada's by any parameter: the list is his whatever he passes.
    sneaky = await api.get("/v1/account/activity", headers=bob.auth, params={"account_id": ada.account_id})
    assert sneaky.status_code == 200 and all(item["account_id"] == bob.account_id for item in sneaky.json()["items"])


async def test_an_admin_queries_across_accounts_and_exports_json_lines(api: httpx.AsyncClient) -> None:
    user = await sign_up(api)
    done = await upload(api, user, "export-me.txt", b"x")

    async def recorded() -> bool:
        return "upload.completed" in actions_of(await activity(api, user), {"upload.completed"})

    await eventually(recorded, timeout=90, interval=0.5)
    admin = await admin_headers(api)
    page = await api.get("/v1/admin/audit", headers=admin, params={"account_id": user.account_id, "limit": 2})
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    assert all(item["account_id"] == user.account_id for item in page.json()["items"])
    only = await api.get(
        "/v1/admin/audit", headers=admin, params={"account_id": user.account_id, "action": "upload.completed"}
    )
    assert [item["document_id"] for item in only.json()["items"]] == [done["document_id"]]

    export = await api.get("/v1/admin/audit/export", headers=admin, params={"account_id": user.account_id})
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines and all(line["account_id"] == user.account_id for line in lines)
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert {"account.created", "upload.completed"} <= {line["action"] for line in lines}
    assert all(len(line["hash"]) == 64 and len(line["prev_hash"]) == 64 for line in lines)

    verified = await api.post("/v1/admin/audit/verify", headers=admin, params={"account_id": user.account_id})
    assert verified.status_code == 200 and verified.json()["ok"] is True


async def test_a_wrong_password_is_a_failed_login_in_the_accounts_trail(api: httpx.AsyncClient) -> None:
    """Recorded once the audit sources emit `account.login-failed` (metadata's credential check)."""
    user = await sign_up(api)
    refused = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD + "-not"})
    assert refused.status_code == 401

    async def failed_login() -> list[dict[str, Any]]:
        return [item for item in await activity(api, user) if item["action"] == "account.login-failed"]

    [record] = await eventually(failed_login, timeout=90, interval=0.5)
    assert record["outcome"] == "failure"
    assert PASSWORD not in json.dumps(record)


async def test_an_anonymous_link_download_is_the_links_doing_in_the_owners_trail(api: httpx.AsyncClient) -> None:
    owner = await sign_up(api)
    done = await upload(api, owner, "shared-by-link.txt", b"for anyone with the link")
    document_id = done["document_id"]

    async def document_recorded() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(document_recorded, timeout=90, interval=0.3)
    created = await api.post(f"/v1/documents/{document_id}/links", headers=owner.auth, json={"expires_in_days": 1})
    assert created.status_code == 201, created.text
    link = created.json()
    agent = f"AnonymousBrowser/{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0, headers={"User-Agent": agent}) as anonymous:
        assert (await anonymous.post(f"/s/{link['token']}", data={})).status_code == 303

    async def link_used() -> list[dict[str, Any]]:
        return [item for item in await activity(api, owner) if item["action"] == "share.link-used"]

    [record] = await eventually(link_used, timeout=90, interval=0.5)
    assert record["actor"] == {"link_id": link["id"]} and record["document_id"] == document_id
    assert record["client_address"] in ("127.0.0.1", "::1") and record["user_agent"] == agent
    assert link["token"] not in json.dumps(record)
    created_record = [item for item in await activity(api, owner) if item["action"] == "share.link-created"]
    assert created_record and created_record[0]["actor"] == {"account_id": owner.account_id}


ISSUE_18_ACTIONS = {
    "account.created": "sign-up",
    "account.logged-in": "login",
    "account.login-failed": "login (failure)",
    "session.ended": "logout",
    "account.plan-changed": "plan change",
    "upload.initiated": "upload grant",
    "upload.completed": "completion",
    "file.download-url-issued": "download URL issued",
    "file.details-changed": "rename, move, tag",
    "file.trashed": "trash",
    "file.restored": "restore",
    "file.deleted": "permanent delete",
    "share.created": "share",
    "share.revoked": "unshare",
    "share.link-created": "link created",
    "share.link-used": "link used",
    "share.link-revoked": "link revoked",
    "notification.preferences-changed": "preference change",
    "account.deleted": "account deletion",
}
"""Every action issue 18 lists, by the event it is recorded as, that lands in the owner's trail
(a follow is the follower's, the admin actions the administrator's: below)."""


async def all_records(api: httpx.AsyncClient, admin: dict[str, str], account_id: str) -> list[dict[str, Any]]:
    """An account's whole trail through the admin query (the account may be deleted by then)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"account_id": account_id, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await api.get("/v1/admin/audit", headers=admin, params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_every_action_the_issue_lists_is_recorded_with_who_what_and_outcome(api: httpx.AsyncClient) -> None:
    """One person does each action issue 18 lists, through the gateway; each is then in the trail
    (a grantee's download and follow in the owner's and the grantee's), the admin's
    reconciliation in the admin's, and both chains verify."""
    admin = await admin_headers(api)
    owner, friend = await sign_up(api), await sign_up(api)
    assert (
        await api.post("/v1/sessions", json={"username": owner.username, "password": "nope " + PASSWORD})
    ).status_code == 401
    done = await upload(api, owner, "ledger.txt", b"every action")
    document_id = done["document_id"]

    async def recorded() -> bool:
        return (await api.get(f"/v1/documents/{document_id}", headers=owner.auth)).status_code == 200

    await eventually(recorded, timeout=90, interval=0.3)
    doc = f"/v1/documents/{document_id}"
    assert (await api.get(f"{doc}/download", headers=owner.auth)).status_code == 200
    for change in ({"name": "ledger-2.txt"}, {"path": "/archive"}, {"tags": ["audit"]}):
        assert (await api.patch(doc, headers=owner.auth, json=change)).status_code == 200, change
    shared = await api.post(
        f"{doc}/shares", headers=owner.auth, json={"username": friend.username, "permission": "view"}
    )
    assert shared.status_code in (200, 201), shared.text
    assert (await api.get(f"{doc}/download", headers=friend.auth)).status_code == 200
    assert (await api.put(f"{doc}/follow", headers=friend.auth)).status_code in (200, 204)
    assert (await api.delete(f"{doc}/shares/{friend.account_id}", headers=owner.auth)).status_code in (200, 204)
    link = await api.post(f"{doc}/links", headers=owner.auth, json={"expires_in_days": 1})
    assert link.status_code == 201, link.text
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=40.0) as anonymous:
        assert (await anonymous.post(f"/s/{link.json()['token']}", data={})).status_code == 303
    assert (await api.delete(f"/v1/links/{link.json()['id']}", headers=owner.auth)).status_code == 204
    assert (await api.put("/v1/account/plan", headers=owner.auth, json={"plan": "premium"})).status_code == 200
    prefs = await api.put("/v1/notifications/preferences", headers=owner.auth, json={"quota_warning": "digest"})
    assert prefs.status_code == 200, prefs.text
    assert (await api.delete(doc, headers=owner.auth)).status_code in (200, 204)
    assert (await api.post(f"{doc}/restore", headers=owner.auth)).status_code == 200
    assert (await api.delete(doc, headers=owner.auth, params={"permanent": "true"})).status_code in (200, 204)
    assert (await api.post("/v1/admin/reconciliation", headers=admin)).status_code == 200
    assert (await api.delete("/v1/sessions/current", headers=owner.auth)).status_code == 204
    again = await api.post("/v1/sessions", json={"username": owner.username, "password": PASSWORD})
    assert again.status_code == 201, again.text
    gone = await api.delete("/v1/account", headers={"Authorization": f"Bearer {again.json()['token']}"})
    assert gone.status_code in (200, 204), gone.text

    async def complete() -> list[dict[str, Any]] | None:
        items = await all_records(api, admin, owner.account_id)
        return items if set(ISSUE_18_ACTIONS) <= {item["action"] for item in items} else None

    try:
        items = await eventually(complete, timeout=180, interval=1.0)
    except AssertionError:
        seen = {item["action"] for item in await all_records(api, admin, owner.account_id)}
        missing = {action: ISSUE_18_ACTIONS[action] for action in set(ISSUE_18_ACTIONS) - seen}
        raise AssertionError(f"not in the owner's trail: {missing}") from None
    by_action: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_action.setdefault(item["action"], []).append(item)
    for action, records in by_action.items():
        for record in records:
            assert {"account_id", "seq", "at", "action", "outcome", "actor", "region", "hash", "prev_hash"} <= set(
                record
            )
            assert record["account_id"] == owner.account_id and record["region"] == "us-west-2", record
            assert record["outcome"] == ("failure" if action == "account.login-failed" else "success"), record
    assert len(by_action["file.details-changed"]) == 3  # rename, move, tag: one record each
    assert {r["document_id"] for a in ("file.trashed", "file.restored", "file.deleted") for r in by_action[a]} == {
        document_id
    }
    # Who: the person, the link (anonymous use), and the grantee for its download and follow.
    assert by_action["share.link-used"][0]["actor"] == {"link_id": link.json()["id"]}
    downloaders = [r["actor"] for r in by_action["file.download-url-issued"]]
    assert sorted(a["account_id"] for a in downloaders) == sorted([owner.account_id, friend.account_id])
    for action in ("upload.initiated", "file.details-changed", "share.created", "account.deleted"):
        assert by_action[action][0]["actor"] == {"account_id": owner.account_id}
        assert by_action[action][0]["client_address"] in ("127.0.0.1", "::1")
    # The grantee's trail holds its own download and its follow.
    theirs = {item["action"]: item for item in await all_records(api, admin, friend.account_id)}
    assert {"file.download-url-issued", "file.followed"} <= set(theirs)
    assert theirs["file.followed"]["actor"] == {"account_id": friend.account_id}
    assert theirs["file.followed"]["document_id"] == document_id
    # The admin action is in the administrator's trail.
    admin_id = (await api.get("/v1/account", headers=admin)).json()["account_id"]

    async def reconciled() -> bool:
        return any(r["action"] == "admin.reconciliation-run" for r in await all_records(api, admin, admin_id))

    await eventually(reconciled, timeout=120, interval=1.0)
    for account_id in (owner.account_id, friend.account_id, admin_id):
        verdict = await api.post("/v1/admin/audit/verify", headers=admin, params={"account_id": account_id})
        assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text

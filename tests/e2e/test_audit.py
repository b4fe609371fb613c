"""The audit trail on the real system: what a person does through the gateway shows up in their
activity, in order, with the address the gateway saw and their user agent; nobody else sees it;
an admin exports it as JSON Lines and the chain verifies."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from .conftest import PASSWORD, User, eventually, sign_up, upload

ADMIN = "admin-e2e"  # METADATA_ADMIN_USERNAMES of the e2e system


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

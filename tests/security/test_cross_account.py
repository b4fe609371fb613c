"""Every public operation, called by someone who is not the owner, with the owner's ids.

Table-driven from the gateway's merged OpenAPI (`GET /openapi.json`), so a route added to any
service is in the matrix the day it ships. In each region a victim owns a document (two
versions), a pending upload, a share, a follow and a notification; three strangers call every
operation with the victim's ids in every path parameter (and in the body where a field names a
document): an account of the same region at the victim's gateway, an account of the other
region at the victim's gateway (its session belongs elsewhere: 307), and that same account at
its own gateway. Each answer must be a refusal, or a 2xx that carries none of the victim's data
on a route that acts on the caller's own things only; never a 5xx. Then the victim's objects
must be exactly as they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from docstore_devplatform.e2e import User
from docstore_kit.pagination import offset_cursor

from .conftest import Victim, new_user
from .support import REFUSALS, Operation, fill_path, operations, request_body, required_query

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Routes not called, with the reason: they act on the caller's own session or account only
# (there is no id of anyone else's to put in), and calling them would end the stranger's session
# in the middle of the matrix.
NOT_CALLED = {
    "DELETE /v1/account": "deletes the caller's own account; no id to substitute",
    "DELETE /v1/sessions/current": "logs the caller out; no id to substitute",
    "GET /v1/sessions/oidc/start": "starts a sign-in of one's own at the OpenID provider (303 there); no id to "
    "substitute (tests/security/test_oidc.py attacks the callback)",
    "DELETE /v1/account/sessions": "ends the caller's own sessions (every one, or all but this one); no id "
    "to substitute (another account's session ids: DELETE /v1/account/sessions/{session_id}, a 404)",
}
# Routes with a path parameter that may answer 2xx to anyone, with the reason. (A route without
# a path parameter may answer 2xx when the answer holds none of the victim's data: it lists or
# changes the caller's own things.)
ANYONE_MAY = {
    "GET /v1/notifications/unsubscribe/{token}": "a mail's signed link; only a token DocStore signed works (404 here)",
    "POST /v1/notifications/unsubscribe/{token}": "one-click unsubscribe of a mail's signed link (404 here)",
    "GET /v1/uploads/{upload_id}/done/{signature}": "S3's redirect after a form upload; signed (refused here)",
    "DELETE /v1/documents/{document_id}/follow": "removes the caller's own follow, if any: idempotent, the same 204 "
    "for any id, so it neither changes nor reveals the victim's things",
}


def path_values(victim: Victim) -> dict[str, Any]:
    return {
        "document_id": victim.document_id,
        "folder_id": victim.folder_id,
        "version": 1,
        "grantee_id": victim.grantee.account_id,
        "link_id": victim.link_id,
        "app_password_id": victim.app_password_id,
        # The victims sign in with passwords and link no identity: tests/security/test_oidc.py has a
        # stranger list and unlink a real linked identity of another account's.
        "identity_id": "0" * 64,
        "upload_id": victim.pending_upload_id,
        "account_id": victim.owner.account_id,
        "token": "A" * 43,
        "signature": "A" * 43,
        "session_id": "A" * 43,  # a session id of no account's: a stranger's call must be a 404 like any other
        "topic": "docstore.upload.completed.dlq",
        "partition": 0,
        "offset": 0,
        # No webhook of the victim's here: tests/security/test_webhooks.py calls every webhook route
        # with another account's real webhook id.
        "webhook_id": "wh_" + "0" * 32,
        "delivery_id": "msg_" + "0" * 32,
        "table": "most-downloaded",  # analytics' admin tables (admins only)
    }


def body_values(victim: Victim) -> dict[str, Any]:
    return {
        "document_id": victim.document_id,
        "username": victim.owner.username,
        "password": "not the password",
        "email": "stranger@example.com",
        "filename": "attack.txt",
        "size": 1,
        "content_type": "text/plain",
        "sha256": "0" * 64,
        "path": "/",
        "name": "renamed-by-a-stranger.txt",
        "tags": ["stranger"],
        "permission": "edit",
        "plan": "premium",
        "q": "*",
        "base_version": 2,
    }


async def call_every_operation(gateway: str, spec: dict, caller: User, victim: Victim) -> list[str]:
    """Calls every operation as `caller` with `victim`'s ids; returns what went wrong."""
    problems = []
    async with httpx.AsyncClient(base_url=gateway, timeout=40.0, follow_redirects=False) as client:
        for op in operations(spec):
            if op.key in NOT_CALLED:
                continue
            missing = set(op.path_params) - set(path_values(victim))
            if missing:
                problems.append(f"{op.key}: no victim value for path parameter(s) {sorted(missing)}; add one")
                continue
            body = request_body(spec, op, body_values(victim))
            answer = await client.request(
                op.method,
                fill_path(op.path, path_values(victim)),
                headers=caller.auth,
                params=required_query(spec, op, body_values(victim)),
                json=body,
            )
            problems += judge(op, answer, victim)
    return problems


def judge(op: Operation, answer: httpx.Response, victim: Victim) -> list[str]:
    status = answer.status_code
    where = f"{op.key} -> {status}"
    leaked = [s for s in victim.secrets() if s in answer.text]
    if status >= 500:
        return [f"{where}: server error {answer.text[:150]}"]
    if 200 <= status < 300:
        if leaked:
            return [f"{where}: answers with the victim's data {leaked}"]
        if op.path_params and op.key not in ANYONE_MAY:
            return [f"{where}: acted on the victim's ids {answer.text[:150]}"]
        return []
    if status not in REFUSALS:
        return [f"{where}: unexpected status {answer.text[:150]}"]
    if leaked and status != 307:
        return [f"{where}: the refusal carries the victim's data {leaked}"]
    return []


async def assert_victim_untouched(victim: Victim) -> None:
    owner = victim.owner.auth
    async with httpx.AsyncClient(base_url=victim.gateway, timeout=40.0) as api:
        doc = (await api.get(f"/v1/documents/{victim.document_id}", headers=owner)).json()
        assert (doc["name"], doc["version"], doc["trashed"], doc["sha256"]) == (victim.name, 2, False, victim.sha256), (
            doc
        )
        versions = (await api.get(f"/v1/documents/{victim.document_id}/versions", headers=owner)).json()
        assert [v["version"] for v in versions["items"]] == [2, 1], versions
        shares = (await api.get(f"/v1/documents/{victim.document_id}/shares", headers=owner)).json()
        assert [(s.get("account_id") or s.get("grantee_id"), s["permission"]) for s in shares["items"]] == [
            (victim.grantee.account_id, "view")
        ], shares
        pending = (await api.get(f"/v1/uploads/{victim.pending_upload_id}", headers=owner)).json()
        assert pending["status"] == "pending", pending
        follows = (await api.get("/v1/account/follows", headers=owner)).json()
        assert victim.document_id in str(follows), follows
        folder = (await api.get(f"/v1/folders/{victim.folder_id}", headers=owner)).json()
        assert (folder["path"], folder["trashed"]) == (victim.folder_path, False), folder
        links = (await api.get(f"/v1/documents/{victim.document_id}/links", headers=owner)).json()
        assert [(link["id"], link["state"]) for link in links["items"]] == [(victim.link_id, "active")], links
        app_passwords = (await api.get("/v1/account/app-passwords", headers=owner)).json()
        assert [item["app_password_id"] for item in app_passwords["items"]] == [victim.app_password_id], app_passwords
        account = (await api.get("/v1/account", headers=owner)).json()
        assert account.get("plan", "free") == "free" and account.get("status", "active") == "active", account


@pytest.mark.parametrize("home", ["A", "B"])
async def test_no_stranger_reaches_a_victims_things_through_any_route(
    system, region_b, victim_a: Victim, victim_b: Victim, home: str
) -> None:
    victim = victim_a if home == "A" else victim_b
    here, there = (system, region_b) if home == "A" else (region_b, system)
    async with httpx.AsyncClient(base_url=here.gateway, timeout=40.0) as api:
        spec = (await api.get("/openapi.json")).json()
    assert len(list(operations(spec))) >= 30, "the merged OpenAPI lacks most services' routes"
    neighbour = await new_user(here.gateway)
    foreigner = await new_user(there.gateway)

    problems = []
    for label, gateway, caller in (
        ("same region", here.gateway, neighbour),
        ("other region, at the victim's gateway", here.gateway, foreigner),
        ("other region, at its own gateway", there.gateway, foreigner),
    ):
        problems += [f"[{label}] {p}" for p in await call_every_operation(gateway, spec, caller, victim)]
    assert not problems, "\n".join(problems)
    await assert_victim_untouched(victim)


def _cursor_lists(spec: dict) -> list[Operation]:
    """Every GET operation that takes a `cursor`: every list, the day it ships."""
    return [
        op
        for op in operations(spec)
        if op.method == "GET" and any(p.get("name") == "cursor" for p in op.spec.get("parameters", []))
    ]


async def test_a_cursor_from_the_victims_lists_shows_a_stranger_nothing(system, victim_a: Victim) -> None:
    """A cursor is only a position: a stranger replaying the victim's cursors (and a forged offset
    cursor) on every list gets a refusal or a page of their own things, never the victim's."""
    victim = victim_a
    async with httpx.AsyncClient(base_url=victim.gateway, timeout=40.0) as api:
        spec = (await api.get("/openapi.json")).json()
        lists = _cursor_lists(spec)
        assert {"GET /v1/documents", "GET /v1/documents/{document_id}/versions", "GET /v1/changes"} <= {
            op.key for op in lists
        }, [op.key for op in lists]
        cursors: dict[str, list[str]] = {}
        for op in lists:
            params = {**required_query(spec, op, body_values(victim)), "limit": 1}
            mine = await api.get(fill_path(op.path, path_values(victim)), headers=victim.owner.auth, params=params)
            found = [offset_cursor(0)]
            if mine.status_code == 200 and mine.json().get("next_cursor"):
                found.append(mine.json()["next_cursor"])
            cursors[op.key] = found
        # The owner's versions list has two entries, so the cursor after the first is the victim's own.
        assert len(cursors["GET /v1/documents/{document_id}/versions"]) == 2

        stranger = await new_user(victim.gateway)
        problems = []
        for op in lists:
            for cursor in cursors[op.key]:
                params = {**required_query(spec, op, body_values(victim)), "cursor": cursor, "limit": 1}
                answer = await api.get(fill_path(op.path, path_values(victim)), headers=stranger.auth, params=params)
                problems += [f"cursor {cursor}: {p}" for p in judge(op, answer, victim)]
    assert not problems, "\n".join(problems)

"""Webhooks on the running system (issue 38): another account's endpoints are out of reach, events
of documents an account does not own never reach its endpoints, and the signing secret is in no
answer but the one that creates it, and in no log line."""

from __future__ import annotations

import base64

import httpx
import pytest

from docstore_devplatform.e2e import sign_up, upload
from docstore_devplatform.testing import eventually
from docstore_devplatform.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVERY_EVENT = [
    "file.version-recorded",
    "file.modified",
    "file.details-changed",
    "file.trashed",
    "file.restored",
    "file.deleted",
    "share.created",
    "share.link-used",
]


async def register(api, user, url: str) -> dict:
    created = await api.post("/v1/webhooks", headers=user.auth, json={"url": url, "events": EVERY_EVENT})
    assert created.status_code == 201, created.text
    return created.json()


async def test_another_accounts_webhook_is_a_404_on_every_route(api) -> None:
    owner, stranger = await sign_up(api), await sign_up(api)
    hook = await register(api, owner, "http://127.0.0.1:9/never-called")
    path = f"/v1/webhooks/{hook['id']}"
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"enabled": False}),
        ("PATCH", path, {"url": "http://127.0.0.1:9/stolen"}),
        ("GET", f"{path}/deliveries", None),
        ("POST", f"{path}/test", None),
        ("GET", f"{path}/deliveries?status=dead", None),
        ("POST", f"{path}/deliveries/msg_{'0' * 32}/replay", None),
        ("DELETE", path, None),
    ]:
        answer = await api.request(method, url, headers=stranger.auth, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["detail"].startswith("you have no webhook") and "127.0.0.1" not in answer.text
    assert (await api.get("/v1/webhooks", headers=stranger.auth)).json()["items"] == []
    mine = (await api.get(path, headers=owner.auth)).json()
    assert (mine["enabled"], mine["url"]) == (True, "http://127.0.0.1:9/never-called")
    assert (await api.delete(path, headers=owner.auth)).status_code == 204


async def test_events_of_documents_the_account_does_not_own_never_reach_its_webhooks(api) -> None:
    owner, editor = await sign_up(api), await sign_up(api)
    async with WebhookReceiver() as owners, WebhookReceiver() as editors:
        await register(api, owner, owners.url())
        editor_hook = await register(api, editor, editors.url())
        doc = (await upload(api, owner, "shared.txt", b"first"))["document_id"]

        async def visible():
            return (await api.get(f"/v1/documents/{doc}", headers=owner.auth)).status_code == 200

        await eventually(visible)
        shared = await api.post(
            f"/v1/documents/{doc}/shares", headers=owner.auth, json={"username": editor.username, "permission": "edit"}
        )
        assert shared.status_code == 201, shared.text
        # The editor changes the owner's document: the events are the owner's (account_id), not the editor's.
        grant = await api.post(
            "/v1/uploads",
            headers=editor.auth,
            json={
                "filename": "shared.txt",
                "size": 6,
                "content_type": "text/plain",
                "document_id": doc,
                "base_version": 1,
            },
        )
        assert grant.status_code == 201, grant.text
        form = grant.json()["form"]
        async with httpx.AsyncClient() as s3:
            posted = await s3.post(form["url"], data=form["fields"], files={"file": ("b", b"second", "text/plain")})
        assert posted.status_code == 201
        assert (
            await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=editor.auth)
        ).status_code == 200
        await owners.wait_for(lambda got: any(b'"file.modified"' in r.body for r in got), timeout=90)
        await owners.wait_for(lambda got: any(b'"share.created"' in r.body for r in got), timeout=60)
        # The editor's endpoint works (its test event arrives) and got nothing of the owner's.
        test = await api.post(f"/v1/webhooks/{editor_hook['id']}/test", headers=editor.auth)
        await editors.wait_for(lambda got: test.json()["id"] in [r.headers["webhook-id"] for r in got], timeout=60)
    assert [r.body for r in editors.requests if b'"webhook.test"' not in r.body] == []
    assert doc.encode() not in b"".join(r.body for r in editors.requests)


async def test_the_secret_is_in_no_answer_but_its_creation_and_in_no_log(api, system) -> None:
    owner = await sign_up(api)
    async with WebhookReceiver() as receiver:
        hook = await register(api, owner, receiver.url())
        secret = hook["secret"]
        key = secret.removeprefix("whsec_")
        forms = {secret, key, base64.b64decode(key).hex()}
        hook_id = hook["id"]
        await upload(api, owner, "secret-check.txt", b"x")
        test = await api.post(f"/v1/webhooks/{hook_id}/test", headers=owner.auth)
        await receiver.wait_for(lambda got: test.json()["id"] in [r.headers["webhook-id"] for r in got], timeout=60)
        answers = [
            test,
            await api.get("/v1/webhooks", headers=owner.auth),
            await api.get(f"/v1/webhooks/{hook_id}", headers=owner.auth),
            await api.patch(f"/v1/webhooks/{hook_id}", headers=owner.auth, json={"description": "changed"}),
            await api.get(f"/v1/webhooks/{hook_id}/deliveries", headers=owner.auth),
        ]
        assert all(a.status_code < 300 for a in answers), [a.text for a in answers]
        assert not [a.request.url for a in answers if any(f in a.text for f in forms)]
        # Nor on the wire to the receiver: only the signature, never the key.
        assert not [r for r in receiver.requests if any(f.encode() in r.body + str(r.headers).encode() for f in forms)]
    leaked = [
        path.name
        for path in system.logs.rglob("*")
        if path.is_file() and any(f.encode() in path.read_bytes() for f in forms)
    ]
    assert leaked == []

"""Webhooks through the gateway: a document change reaches the owner's endpoint, signed (issue 38).

The system runs in development mode, so the receiver is a loopback server of this process."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from docstore_devplatform.webhook_receiver import Received, WebhookReceiver

from .conftest import eventually, sign_up, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def of_type(kind: str):
    return lambda got: [r for r in got if f'"type":"{kind}"'.encode() in r.body]


async def test_a_document_change_reaches_a_verified_webhook_delivery(api) -> None:
    owner = await sign_up(api)
    async with WebhookReceiver() as receiver:
        created = await api.post(
            "/v1/webhooks",
            headers=owner.auth,
            json={"url": receiver.url(), "events": ["file.version-recorded", "file.trashed"], "description": "e2e"},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        secret, hook_id = hook["secret"], hook["id"]
        assert secret.startswith("whsec_") and created.headers["cache-control"] == "no-store"

        done = await upload(api, owner, "hooked.txt", b"hello hooks")
        document_id = done["document_id"]
        got = await receiver.wait_for(of_type("file.version-recorded"), timeout=90)
        recorded: Received = of_type("file.version-recorded")(got)[0]
        body = Webhook(secret).verify(recorded.body, recorded.headers)
        assert body["data"]["document_id"] == document_id and body["data"]["filename"] == "hooked.txt"
        assert body["data"]["account_id"] == owner.account_id and "bucket" not in body["data"]

        assert (await api.delete(f"/v1/documents/{document_id}", headers=owner.auth)).status_code in (200, 204)
        got = await receiver.wait_for(of_type("file.trashed"), timeout=90)
        trashed = of_type("file.trashed")(got)[0]
        assert Webhook(secret).verify(trashed.body, trashed.headers)["data"]["document_id"] == document_id

        test = await api.post(f"/v1/webhooks/{hook_id}/test", headers=owner.auth)
        assert test.status_code == 202, test.text
        await receiver.wait_for(lambda got: test.json()["id"] in [r.headers["webhook-id"] for r in got], timeout=60)

    async def all_delivered():
        page = (await api.get(f"/v1/webhooks/{hook_id}/deliveries", headers=owner.auth)).json()
        done = [d for d in page["items"] if d["status"] == "delivered"]
        return page if len(done) == 3 else None

    page = await eventually(all_delivered, timeout=30)
    assert {d["event_type"] for d in page["items"]} == {"file.version-recorded", "file.trashed", "webhook.test"}
    assert all(d["response_code"] == 200 and d["latency_ms"] >= 0 and d["attempts"] >= 1 for d in page["items"])
    listed = await api.get("/v1/webhooks", headers=owner.auth)
    assert [h["id"] for h in listed.json()["items"]] == [hook_id] and "whsec_" not in listed.text

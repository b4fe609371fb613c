"""Webhook targets outside development (issue 38): private, loopback, link-local, multicast and cloud
metadata addresses are refused at registration, and again at each delivery (a name that resolves
to a public address when registered and to a loopback one later: DNS rebinding); the sender
connects to the address it checked, never to a second resolution. The secret is stored encrypted.

notify runs in this process over a real MongoDB with `webhook_allow_private_targets` off and a
resolver the test controls (the shared system runs in development mode, where these are allowed)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
import structlog
from fastapi import FastAPI

from docstore_devplatform.webhook_receiver import WebhookReceiver
from docstore_kit.auth import InternalAuth
from docstore_kit.errors import install_error_handlers
from docstore_notify.adapters.repositories import ensure_indexes
from docstore_notify.adapters.secret_box import SecretBox, parse_keys
from docstore_notify.api.webhooks import router
from docstore_notify.bootstrap import Services, bootstrap
from docstore_notify.settings import Settings

pytestmark = pytest.mark.integration

PUBLIC = "93.184.215.14"


class Names:
    """A resolver whose answers the test changes (the attacker's DNS)."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {
            "public.example": [PUBLIC],
            "inside.example": ["10.0.0.7"],
            "mixed.example": [PUBLIC, "127.0.0.1"],
            "imds.example": ["169.254.169.254"],
            "v6.example": ["fd00:ec2::254"],
            "rebind.example": [PUBLIC],
        }
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(8, "no such name")
        return self.table[host]


async def _services(isolated: dict[str, str], names: Names, *, allow_private: bool) -> Services:
    settings = Settings(
        **isolated,
        webhook_allow_private_targets=allow_private,
        webhook_connect_timeout_seconds=2,
        webhook_timeout_seconds=3,
        webhook_lease_seconds=4,
    )
    built = bootstrap(settings, resolve=names)
    await ensure_indexes(built.runtime.db)
    return built


@pytest_asyncio.fixture
async def names() -> Names:
    return Names()


@pytest_asyncio.fixture
async def outside_development(isolated: dict[str, str], names: Names) -> AsyncIterator[Services]:
    built = await _services(isolated, names, allow_private=False)
    yield built
    await built.webhooks.client.aclose()
    await built.runtime.mongo.close()


def app_over(services: Services) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.internal_auth = InternalAuth.from_settings(services.settings)
    app.state.services = SimpleNamespace(webhooks=services.webhooks)
    return app


REFUSED = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://[::1]:8443/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[::ffff:169.254.169.254]/", "metadata"),
    ("https://[fd00:ec2::254]/", "metadata"),
    ("https://10.1.2.3/", "private"),
    ("https://192.168.0.10/", "private"),
    ("https://[fe80::1]/", "link-local"),
    ("https://224.0.0.251/", "multicast"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://inside.example/", "private"),
    ("https://mixed.example/", "loopback"),  # every address counts, not the first
    ("https://imds.example/", "metadata"),
    ("https://v6.example/", "metadata"),
    ("https://nowhere.example/", "does not resolve"),
    ("http://public.example/", "https://"),
]
"""(URL, words of the refusal): each refused at registration and on a URL change."""


async def test_private_and_metadata_targets_are_refused_at_registration(outside_development: Services) -> None:
    app = app_over(outside_development)
    headers = app.state.internal_auth.headers(audience="notify", subject="acc-sec")
    problems = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        kept = await client.post(
            "/webhooks", json={"url": "https://public.example/h", "events": ["file.trashed"]}, headers=headers
        )
        assert kept.status_code == 201, kept.text
        for url, words in REFUSED:
            answer = await client.post("/webhooks", json={"url": url, "events": ["file.trashed"]}, headers=headers)
            if answer.status_code != 422 or words not in answer.json()["detail"]:
                problems.append(f"POST {url}: {answer.status_code} {answer.text}")
            moved = await client.patch(f"/webhooks/{kept.json()['id']}", json={"url": url}, headers=headers)
            if moved.status_code != 422 or words not in moved.json()["detail"]:
                problems.append(f"PATCH {url}: {moved.status_code} {moved.text}")
    assert not problems, "\n".join(problems)
    [only] = await outside_development.webhooks.all_of("acc-sec")
    assert only["url"] == "https://public.example/h"


async def test_a_name_rebound_to_loopback_after_registration_is_refused_at_delivery(
    outside_development: Services, names: Names
) -> None:
    webhooks = outside_development.webhooks
    async with WebhookReceiver() as receiver:
        created = await webhooks.register(
            "acc-rebind", url=f"https://rebind.example:{receiver.port}/h", events=["file.trashed"]
        )
        names.table["rebind.example"] = ["127.0.0.1"]  # the attacker's DNS answers otherwise now
        await webhooks.fan_out("ev-rebind", "file.trashed", {"account_id": "acc-rebind"}, datetime.now(UTC))
        assert await webhooks.deliver_due() == 1
        assert receiver.requests == []
    page = await webhooks.deliveries("acc-rebind", created.webhook["_id"], limit=5, cursor=None)
    [row] = page.rows
    assert row["attempts"] == 1 and row["status"] == "pending" and row["response_code"] is None
    assert "resolves to a loopback address" in row["last_error"]


async def test_delivery_connects_to_the_address_it_checked_never_resolving_again(isolated, names: Names) -> None:
    """Development mode (loopback allowed) and a name only this test's resolver knows: if anything
    but the checked address were used (a second resolution by the HTTP client), the request could
    not arrive. The name still goes in Host."""
    built = await _services(isolated, names, allow_private=True)
    try:
        async with WebhookReceiver() as receiver:
            names.table["hooks.docstore-test.invalid"] = ["127.0.0.1"]
            url = f"http://hooks.docstore-test.invalid:{receiver.port}/h"
            await built.webhooks.register("acc-pin", url=url, events=["file.trashed"])
            await built.webhooks.fan_out("ev-pin", "file.trashed", {"account_id": "acc-pin"}, datetime.now(UTC))
            assert await built.webhooks.deliver_due() == 1
            [request] = receiver.requests
        assert request.headers["host"] == f"hooks.docstore-test.invalid:{receiver.port}"
        assert names.asked.count("hooks.docstore-test.invalid") == 1  # once, at delivery (dev: none at registration)
    finally:
        await built.webhooks.client.aclose()
        await built.runtime.mongo.close()


async def test_redirects_are_not_followed(isolated, names: Names) -> None:
    built = await _services(isolated, names, allow_private=True)
    try:
        async with WebhookReceiver(status=307) as receiver:
            created = await built.webhooks.register("acc-redirect", url=receiver.url(), events=["file.trashed"])
            await built.webhooks.fan_out(
                "ev-redirect", "file.trashed", {"account_id": "acc-redirect"}, datetime.now(UTC)
            )
            await built.webhooks.deliver_due()
            assert len(receiver.requests) == 1
        [row] = (await built.webhooks.deliveries("acc-redirect", created.webhook["_id"], limit=5, cursor=None)).rows
        assert row["response_code"] == 307 and row["status"] == "pending"
    finally:
        await built.webhooks.client.aclose()
        await built.runtime.mongo.close()


async def test_the_secret_is_stored_encrypted_and_logged_nowhere(
    isolated, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    # structlog caches a logger on first use: once an earlier test configured logging (as in the
    # whole suite), the lines go through the standard library (caplog), not capture_logs.
    caplog.set_level(logging.INFO)
    built = await _services(isolated, names, allow_private=True)
    try:
        async with WebhookReceiver(status=lambda n: 500 if n == 1 else 200) as receiver:
            with structlog.testing.capture_logs() as logs:
                created = await built.webhooks.register("acc-secret", url=receiver.url(), events=["file.trashed"])
                await built.webhooks.send_test("acc-secret", created.webhook["_id"])
                await built.webhooks.deliver_due()  # a failed attempt (500), logged
                await built.webhooks.send_test("acc-secret", created.webhook["_id"])
                await built.webhooks.deliver_due()
        row = await built.runtime.db["webhooks"].find_one({"_id": created.webhook["_id"]})
        key = created.secret.removeprefix("whsec_")
        assert row is not None and key not in str(row)
        box = SecretBox(parse_keys(built.settings.webhook_secrets_keys))
        assert box.decrypt(row["secret"]) == created.secret
        ours = [r for r in caplog.records if r.name.startswith("docstore_notify")]
        assert len(logs) + len(ours) >= 3 and key not in str(logs) + caplog.text
        deliveries = [d async for d in built.runtime.db["webhook_deliveries"].find({})]
        assert len(deliveries) == 2 and key not in str(deliveries)
        assert len(receiver.requests) == 2 and all(key not in str(r) for r in receiver.requests)
    finally:
        await built.webhooks.client.aclose()
        await built.runtime.mongo.close()

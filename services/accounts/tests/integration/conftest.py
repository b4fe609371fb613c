"""An in-process accounts service on the real servers, with its own database and topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from docstore_accounts.bootstrap import Services
from docstore_accounts.main import create_app
from docstore_accounts.settings import Settings
from docstore_devplatform.testing import EventPublisher
from docstore_events import Event
from docstore_events.envelope import decode


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    events: EventPublisher
    """Publishes into the app's topics, as another service's producer would (the audit consumes them)."""

    @property
    def services(self) -> Services:
        return self.app.state.services

    @property
    def db(self) -> Any:
        return self.services.runtime.db

    def headers(self, account_id: str) -> dict[str, str]:
        """The signed identity the gateway would send for `account_id`."""
        return self.app.state.internal_auth.headers(audience="accounts", subject=account_id)

    async def get(self, url: str, account_id: str, **params: Any) -> httpx.Response:
        return await self.http.get(url, params=params, headers=self.headers(account_id))

    def service_headers(self, caller: str = "gateway") -> dict[str, str]:
        """The identity another service sends on its calls to `/internal/...`."""
        return self.app.state.internal_auth.headers(audience="accounts", subject=caller, role="service")

    async def emitted(self, event_type: type[Event]) -> list[Any]:
        """Events of `event_type` written to the outbox (they are published from there)."""
        rows = (
            await self.db["outbox"]
            .find({"headers.ce_type": f"docstore.{event_type.type}"})
            .sort("seq", 1)
            .to_list(None)
        )
        return [decode(row["headers"], row["value"]).data for row in rows]

    async def outbox_values(self, event_type: str) -> list[bytes]:
        """The raw JSON values of the outbox rows of one event type (what goes to Kafka)."""
        rows = await self.db["outbox"].find({"headers.ce_type": f"docstore.{event_type}"}).to_list(None)
        return [bytes(row["value"]) for row in rows]


@pytest_asyncio.fixture
async def accounts(isolated: dict[str, str], publisher: EventPublisher) -> AsyncIterator[Harness]:
    """The service in process (no notify: the tests replace its mailer, `test_account_security.py`)."""
    # No notify, metadata or quota here: their ports refuse at once (the mailer is replaced by the tests).
    settings = Settings(
        **isolated, notify_url="http://127.0.0.1:9", metadata_url="http://127.0.0.1:9", quota_url="http://127.0.0.1:9"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield Harness(app=app, http=http, settings=settings, events=publisher)

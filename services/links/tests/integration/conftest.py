"""An in-process links service on the real servers (its own database and topics), with metadata
played by a `World` behind an httpx mock transport: the documents, shares and accounts each test
sets up, answered as metadata's `POST /internal/links/access` answers (metadata's side of that
route is tested in services/metadata/tests/integration/test_link_access.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from docstore_devplatform.testing import EventPublisher
from docstore_events import Event
from docstore_events.envelope import decode
from docstore_links.bootstrap import Services
from docstore_links.main import create_app
from docstore_links.settings import Settings


@dataclass
class World:
    """What metadata knows, as far as links ask: documents (with their versions and shares), deleted
    accounts and unverified addresses. `down`: metadata answers 503."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    unverified: set[str] = field(default_factory=set)
    down: bool = False
    asked: int = 0

    def add(self, owner_id: str, name: str = "report.txt", size: int = 18) -> str:
        document_id = str(uuid.uuid4())
        self.documents[document_id] = {
            "owner_id": owner_id,
            "name": name,
            "trashed": False,
            "versions": {1: size},
            "shares": {},
        }
        return document_id

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        body = json.loads(request.content)
        found = self.documents.get(body["document_id"])
        if found is None:
            return httpx.Response(200, json={"grant": None})
        account_id, owner_id = body["account_id"], found["owner_id"]
        access = "owner" if account_id == owner_id else found["shares"].get(account_id)
        if found["trashed"] and account_id != owner_id:
            access = None
        current = max(found["versions"])
        number = body["version"] or current
        served = None
        if number in found["versions"]:
            served = {"number": number, "size": found["versions"][number], "content_type": "text/plain"}
            if body["serve"] == "download":
                served["download_url"] = f"https://s3.test/{body['document_id']}/{number}?X-Amz-Expires=60"
            if body["serve"] == "page":
                served["preview_url"] = f"https://s3.test/{body['document_id']}/{number}/small.webp"
        grant = {
            "document_id": body["document_id"],
            "owner_id": owner_id,
            "name": found["name"],
            "trashed": found["trashed"],
            "current_version": current,
            "access": access,
            "accounts_active": not ({owner_id, account_id} & self.deleted),
            "verified": account_id not in self.unverified,
            "served": served,
        }
        return httpx.Response(200, json={"grant": grant})


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    events: EventPublisher
    world: World
    account_id: str = field(default_factory=lambda: f"acc-{uuid.uuid4().hex[:12]}")

    @property
    def services(self) -> Services:
        return self.app.state.services

    @property
    def db(self) -> Any:
        return self.services.runtime.db

    def headers(self, account_id: str | None = None) -> dict[str, str]:
        """The signed identity the gateway would send for `account_id` (default: the harness's)."""
        return self.app.state.internal_auth.headers(audience="links", subject=account_id or self.account_id)

    def service_headers(self, caller: str = "gateway") -> dict[str, str]:
        return self.app.state.internal_auth.headers(audience="links", subject=caller, role="service")

    async def get(self, url: str, account_id: str | None = None, **params: Any) -> httpx.Response:
        return await self.http.get(url, params=params, headers=self.headers(account_id))

    def document(self, name: str = "report.txt", *, owner_id: str | None = None, size: int = 18) -> str:
        return self.world.add(owner_id or self.account_id, name, size)

    async def emitted(self, event_type: type[Event]) -> list[Any]:
        """Events of `event_type` written to the outbox (they are published from there)."""
        rows = (
            await self.db["outbox"]
            .find({"headers.ce_type": f"docstore.{event_type.type}"})
            .sort("seq", 1)
            .to_list(None)
        )
        return [decode(row["headers"], row["value"]).data for row in rows]


@pytest_asyncio.fixture
async def links(isolated: dict[str, str], publisher: EventPublisher) -> AsyncIterator[Harness]:
    settings = Settings(**isolated, metadata_url="http://metadata.test")
    app = create_app(settings)
    world = World()
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        await services.metadata.http.aclose()
        services.metadata.http = httpx.AsyncClient(
            transport=httpx.MockTransport(world.answer), base_url="http://metadata.test"
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield Harness(app=app, http=http, settings=settings, events=publisher, world=world)

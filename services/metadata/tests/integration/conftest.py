"""An in-process metadata service on the real servers, with its own database and topics."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient, monitoring

from docstore_devplatform.testing import EventPublisher
from docstore_events import Event, UploadCompleted
from docstore_events.envelope import decode
from docstore_metadata.adapters.keyset import choose_listing
from docstore_metadata.bootstrap import Services
from docstore_metadata.main import create_app
from docstore_metadata.settings import Settings

BUCKET = "docstore-us-west-2"


class Queries(monitoring.CommandListener):
    """The `find` commands a client sends on `documents` while `recording` (filter, sort)."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.command_name == "find" and event.command.get("find") == "documents":
            self.seen.append((dict(event.command.get("filter", {})), dict(event.command.get("sort", {}))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    events: EventPublisher
    s3: Any
    queries: Queries
    account_id: str = field(default_factory=lambda: f"acc-{uuid.uuid4().hex[:12]}")

    @property
    def services(self) -> Services:
        return self.app.state.services

    @property
    def db(self) -> Any:
        return self.services.runtime.db

    def headers(self, account_id: str | None = None) -> dict[str, str]:
        """The signed identity the gateway would send for `account_id` (default: the harness's)."""
        return self.app.state.internal_auth.headers(audience="metadata", subject=account_id or self.account_id)

    def service_headers(self, caller: str = "upload") -> dict[str, str]:
        """The identity another service sends on its calls to `/internal/...`."""
        return self.app.state.internal_auth.headers(audience="metadata", subject=caller, role="service")

    async def get(self, url: str, account_id: str | None = None, **params: Any) -> httpx.Response:
        return await self.http.get(url, params=params, headers=self.headers(account_id))

    async def send(self, event: Event) -> None:
        """Publish `event` into the app's topics, as its producer would."""
        await self.events.send(event)

    async def stored(
        self,
        body: bytes,
        *,
        document_id: str | None = None,
        filename: str = "notes.txt",
        content_type: str = "text/plain",
        base_version: int | None = None,
        tags: list[str] | None = None,
        path: str = "/",
        account_id: str | None = None,
        put: bool = True,
    ) -> UploadCompleted:
        """An object in S3 and the `upload.completed` that announces it."""
        account_id = account_id or self.account_id
        upload_id = uuid.uuid4().hex
        document_id = document_id or str(uuid.uuid4())
        key = f"us-west-2/{account_id}/{document_id}/{upload_id}"
        if put:
            await asyncio.to_thread(self.s3.put_object, Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
        return UploadCompleted(
            account_id=account_id,
            upload_id=upload_id,
            document_id=document_id,
            bucket=BUCKET,
            key=key,
            filename=filename,
            content_type=content_type,
            size=len(body),
            etag=hashlib.md5(body).hexdigest(),
            sha256=hashlib.sha256(body).hexdigest(),
            tags=tags or [],
            path=path,
            base_version=base_version,
        )

    async def record(self, event: UploadCompleted) -> Any:
        """Apply `event` as the consumer does (same use case, one transaction), without going through Kafka."""
        return await self.services.documents.record_upload(event)

    async def emitted(self, event_type: type[Event]) -> list[Any]:
        """Events of `event_type` written to the outbox (they are published from there)."""
        rows = (
            await self.db["outbox"]
            .find({"headers.ce_type": f"docstore.{event_type.type}"})
            .sort("seq", 1)
            .to_list(None)
        )
        return [decode(row["headers"], row["value"]).data for row in rows]

    async def account(self, prefix: str = "acc", *, plan: str = "free") -> dict[str, str]:
        """An account as metadata knows one: a row of its projection, as `account.created` and a
        verified address leave it (sign-up itself is the accounts service's, issue 36)."""
        account_id, name = str(uuid.uuid4()), f"{prefix}{uuid.uuid4().hex[:10]}"
        await self.db["account_projection"].insert_one(
            {
                "_id": account_id,
                "username": name,
                "plan": plan,
                "home_region": self.settings.region,
                "email_verified": True,
                "status": "active",
            }
        )
        return {"account_id": account_id, "username": name}

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=BUCKET, Key=key)
            return True
        except self.s3.exceptions.ClientError:
            return False


@pytest_asyncio.fixture
async def metadata(
    request: pytest.FixtureRequest,
    endpoints: Any,
    isolated: dict[str, str],
    publisher: EventPublisher,
) -> AsyncIterator[Harness]:
    """The service in process. Its listing strategy (`METADATA_LISTING_STRATEGY`) is "auto" unless
    a test names one: `pytest.mark.parametrize("metadata", ["windowed", "keyset"], indirect=True)`
    runs a listing test under both."""
    settings = Settings(
        **isolated,
        s3_bucket=BUCKET,
        s3_endpoint_url=endpoints.s3_endpoint,
        free_version_cap=3,
        garbage_interval_seconds=0.5,
        listing_strategy=getattr(request, "param", "auto"),
        # No accounts service here: `Owners` goes by the projection alone (the port refuses at once).
        accounts_url="http://127.0.0.1:9",
    )
    # Listings read through a client of the test's own, whose commands a listener records.
    queries = Queries()
    observed = AsyncMongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[queries])
    listing = await choose_listing(settings.listing_strategy, observed[settings.mongodb_database])
    app = create_app(settings, listing=listing)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name=settings.aws_default_region,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
    )
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                yield Harness(app=app, http=http, settings=settings, events=publisher, s3=s3, queries=queries)
    finally:
        await observed.close()

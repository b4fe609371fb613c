"""An in-process indexer on the real servers, with its own database, topics and collection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import boto3
import httpx
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from docstore_devplatform.testing import EventPublisher, eventually
from docstore_events import (
    AccountCreated,
    AccountPlanChanged,
    DocumentIndexed,
    DocumentIndexFailed,
    DocumentPreviewFailed,
    DocumentPreviewRendered,
    DocumentPreviewsRecorded,
    DocumentsIndexed,
    Event,
    FileVersionRecorded,
)
from docstore_events.envelope import KafkaRecord, decode, headers_to_dict
from docstore_indexer.bootstrap import Services
from docstore_indexer.main import create_app
from docstore_indexer.settings import Settings

BATCH_OF: dict[type[Event], type[DocumentsIndexed] | type[DocumentPreviewsRecorded]] = {
    DocumentIndexed: DocumentsIndexed,
    DocumentIndexFailed: DocumentsIndexed,
    DocumentPreviewRendered: DocumentPreviewsRecorded,
    DocumentPreviewFailed: DocumentPreviewsRecorded,
}
"""The batch event that carries several of one account's outcomes of each kind."""


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    events: EventPublisher
    s3: Any

    async def send(self, event: Event, *, event_id: str | None = None, time: datetime | None = None) -> KafkaRecord:
        """Publish `event` into the app's topics, as its producer would (no outbox)."""
        return await self.events.send(event, event_id=event_id, time=time)

    async def resend(self, record: KafkaRecord) -> None:
        """Deliver the very same record again (same CloudEvents id), as Kafka may."""
        await self.events.resend(record)

    async def sign_up(self, plan: str = "premium") -> str:
        account_id = f"acc-{uuid.uuid4().hex[:12]}"
        await self.send(
            AccountCreated(
                account_id=account_id,
                username=account_id,
                email=f"{account_id}@example.com",
                plan=plan,
                home_region=self.settings.region,
            )
        )
        await eventually(lambda: self._plan_is(account_id, plan))
        return account_id

    async def change_plan(self, account_id: str, old: str, new: str) -> None:
        await self.send(AccountPlanChanged(account_id=account_id, old_plan=old, new_plan=new))
        await eventually(lambda: self._plan_is(account_id, new))

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def _plan_is(self, account_id: str, plan: str) -> bool:
        return await self.services.plans.plan_of(account_id) == plan

    async def catalog_has(self, account_id: str, document_id: str) -> bool:
        return await self.services.reads.catalog.get(account_id, document_id) is not None

    async def upload(
        self,
        account_id: str,
        body: bytes,
        *,
        content_type: str = "text/plain",
        filename: str = "notes.txt",
        document_id: str | None = None,
        tags: list[str] | None = None,
        version: int = 1,
    ) -> FileVersionRecorded:
        """Put an object into S3 and announce it as metadata does, with `file.version-recorded`."""
        upload_id = uuid.uuid4().hex
        document_id = document_id or f"doc-{uuid.uuid4().hex[:12]}"
        bucket = self.settings.bucket_name(self.settings.region)
        key = f"{account_id}/{document_id}/{upload_id}"
        await asyncio.to_thread(self.s3.put_object, Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        event = FileVersionRecorded(
            account_id=account_id,
            upload_id=upload_id,
            document_id=document_id,
            version=version,
            bucket=bucket,
            key=key,
            filename=filename,
            content_type=content_type,
            size=len(body),
            sha256="sha",
            tags=tags or [],
        )
        return event

    async def search(self, account_id: str, q: str, **params: Any) -> httpx.Response:
        return await self.http.get("/search", params={"q": q, **params}, headers=self.headers(account_id))

    def headers(self, account_id: str) -> dict[str, str]:
        """The signed identity the gateway would send for `account_id`."""
        return self.app.state.internal_auth.headers(audience="indexer", subject=account_id)

    async def found(self, account_id: str, q: str) -> list[dict]:
        response = await self.search(account_id, q)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def emitted(self, event_type: type[Event], *, expect: int, timeout: float = 8.0) -> list[Any]:
        """Events of `event_type` the app published, read from the start of its topic. An
        outcome's also from its batch's topic (`document.batch-indexed`, `document.batch-previews`):
        each outcome of a batch as the single event it stands for, under the batch's id.

        Reads until `timeout`, or until `expect` arrived and a short quiet period passed.
        """
        batch = BATCH_OF.get(event_type)
        prefix = self.settings.kafka_topic_prefix
        consumer = AIOKafkaConsumer(
            event_type.topic(prefix),
            *([batch.topic(prefix)] if batch else []),
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[Any] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            quiet_until = None
            while loop.time() < deadline:
                batches = await consumer.getmany(timeout_ms=300)
                for messages in batches.values():
                    for message in messages:
                        envelope = decode(headers_to_dict(message.headers), message.value)
                        found += [
                            replace(envelope, data=one)
                            for one in (
                                envelope.data.each() if batch and isinstance(envelope.data, batch) else [envelope.data]
                            )
                            if isinstance(one, event_type)
                        ]
                if len(found) >= expect:
                    quiet_until = quiet_until or loop.time() + 1.5
                    if loop.time() >= quiet_until:
                        break
        finally:
            await consumer.stop()
        return found


@pytest_asyncio.fixture
async def indexer(endpoints: Any, isolated: dict[str, str], publisher: EventPublisher) -> AsyncIterator[Harness]:
    settings = Settings(
        **isolated,
        typesense_url=endpoints.typesense_url,
        typesense_api_key=endpoints.typesense_api_key,
        typesense_collection=f"test_documents_{uuid.uuid4().hex[:10]}",
        s3_endpoint_url=endpoints.s3_endpoint,
        extract_timeout_seconds=10,
        # A loaded 2-core machine (CI, two xdist workers) renders a 3 s video in more than the
        # default 30 s at times; the tests' own waits are 90 s.
        preview_timeout_seconds=80,
        backfill_documents_per_second=5,
        backfill_poll_seconds=0.5,
    )
    app = create_app(settings)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoints.s3_endpoint,
        region_name=settings.aws_default_region,
        aws_access_key_id=endpoints.s3_access_key,
        aws_secret_access_key=endpoints.s3_secret_key,
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield Harness(app=app, http=http, settings=settings, events=publisher, s3=s3)
        await app.state.services.search_index.http.delete(f"/collections/{settings.typesense_collection}")

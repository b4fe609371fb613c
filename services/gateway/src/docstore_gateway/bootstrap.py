"""The gateway's composition root: `bootstrap(settings) -> Services` builds every client,
adapter and use case (nothing connects until first use); `main.py`'s lifespan stores the
result as `app.state.services`, the one object the routes read (`api/deps.py`)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from docstore_gateway.adapters.devices import MongoDevices
from docstore_gateway.adapters.sessions import MongoRevocations, MongoSessions, repositories
from docstore_gateway.adapters.stored_bytes import StoredBytes
from docstore_gateway.adapters.throttle import Throttle
from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.domain.held import HeldRequests
from docstore_gateway.domain.regions import Regions
from docstore_gateway.domain.routing import ROUTE_TABLE
from docstore_gateway.domain.tokens import access_keys
from docstore_gateway.service_layer.app_passwords import AppPasswordChecks, AppPasswordRevocations
from docstore_gateway.service_layer.devices import AccountSessions, Revocations
from docstore_gateway.service_layer.forwarding import Forwarding
from docstore_gateway.service_layer.ports import Repositories
from docstore_gateway.service_layer.sessions import Authenticator, Logins, RevocationList, SignOuts
from docstore_gateway.service_layer.share_links import ShareLinks
from docstore_gateway.service_layer.webdav import WebdavCallers
from docstore_gateway.settings import Settings
from docstore_kit.app import mongo_client
from docstore_kit.auth import InternalAuth, parse_keys
from docstore_kit.http_transport import StreamClient, default_limits, lean_client
from docstore_messaging.runtime import EventRuntime
from docstore_messaging.tasks import stop_tasks
from docstore_messaging.unit_of_work import UnitOfWork

# Long enough for a 30 s long-poll of the change feed and for joining a large multipart upload.
UPSTREAM_TIMEOUT = httpx.Timeout(120.0, connect=5.0)


@dataclass
class Services:
    settings: Settings
    mongo: AsyncMongoClient[Any]
    sessions: MongoSessions
    devices: MongoDevices
    events: EventRuntime
    """The outbox and its relay (`session.ended`, `account.new-sign-in` go out through them), and
    the one subscription, `account.sessions-revoked` (`consumers/revocations.py`, registered by
    `main.py` before `start`)."""
    upstreams: Upstreams
    throttle: Throttle
    """Throttle counters: `memory://` needs no I/O to set up; a shared store connects lazily."""
    authenticator: Authenticator
    logins: Logins
    forwarding: Forwarding
    app_passwords: AppPasswordChecks
    share_links: ShareLinks
    """A public share link's page (`/s/{token}`): metadata's typed answers, the password throttle."""
    """Who `Authorization: Basic` (username and app password) is: the accounts service's answer, remembered briefly."""
    account_sessions: AccountSessions
    revocations: Revocations
    webdav_client: StreamClient
    """The webdav service (issue 38): bodies streamed both ways as they arrive (aiohttp), never held."""
    webdav_url: str
    """The webdav service's base URL; a WebDAV request's path is appended as the client sent it."""
    webdav_callers: WebdavCallers
    stored_bytes: StoredBytes
    """A WebDAV GET's bytes, read from S3's signed URL the webdav service names (`docstore_kit.handoff`)."""
    revocation_list: RevocationList
    """Ended sessions and signed-out accounts, in memory (signed access tokens are checked against it)."""
    _poll: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sessions.ensure_indexes()
        await self.devices.ensure_indexes()
        await self.events.start()  # the producer, the outbox relay and the revocation subscriber
        # The revocation list: read once before the first request (a failure is read again on
        # the first request, `RevocationList.current`), then about once a second.
        with contextlib.suppress(Exception):
            await self.revocation_list.refresh()
        self._poll = asyncio.create_task(self.revocation_list.run(), name="gateway-revocation-list")

    async def aclose(self) -> None:
        try:
            await stop_tasks([self._poll])
            await self.events.stop()
            await self.upstreams.aclose()
            await self.webdav_client.aclose()
            await self.stored_bytes.aclose()
        finally:
            await self.mongo.close()


def bootstrap(
    settings: Settings,
    *,
    mongo: AsyncMongoClient[Any] | None = None,
    upstream_clients: dict[str, httpx.AsyncClient] | None = None,
    throttle: Throttle | None = None,
) -> Services:
    """Every piece of the gateway, wired. Tests may hand in their own MongoDB client, HTTP
    clients for some services (e.g. one on an in-process app's ASGI transport) or throttle."""
    mongo = mongo or mongo_client(settings)
    db = mongo[settings.mongodb_database]
    # A revocation entry outlives every access token it refuses (and a margin for clocks).
    keep = timedelta(seconds=settings.access_ttl_seconds) + timedelta(minutes=5)
    sessions = MongoSessions(db, keep=keep)
    devices = MongoDevices(db)
    events = EventRuntime.for_service(settings, db)
    uow: UnitOfWork[Repositories] = events.unit_of_work(repositories(db, keep=keep))
    # Every forwarded request is one call to a service: kit's ServiceClient, whose `call` goes
    # through aiohttp (kept-alive connections; a quarter of httpx's CPU per call), with no
    # cookie jar (a service's Set-Cookie must never ride along with another user's call).
    # `Services.aclose` closes them (their aiohttp sessions too).
    clients = {
        name: lean_client(base_url=url, timeout=UPSTREAM_TIMEOUT)
        for name, url in settings.upstreams().items()
        if name not in (upstream_clients or {})
    } | (upstream_clients or {})
    # Long polls hold a connection for their whole wait: a pool of their own, as large as the cap
    # on held requests in all, so they never wait for one and never take the others' (issue 33).
    held_clients = {
        service: (upstream_clients or {}).get(service)
        or lean_client(
            base_url=settings.upstreams()[service],
            timeout=UPSTREAM_TIMEOUT,
            limits=default_limits(max_connections=settings.held_requests_total),
        )
        for service in sorted({route.service for route in ROUTE_TABLE if route.held})
    }
    upstreams = Upstreams(clients, InternalAuth.from_settings(settings), held_clients)
    throttle = throttle or Throttle.from_settings(settings)
    sign_outs = SignOuts(devices)
    regions = Regions(settings.region, settings.gateways())
    revocation_list = RevocationList(MongoRevocations(db), keep=keep)
    # Access tokens are signed with a key derived from the internal signing keys (key id, rotation).
    authenticator = Authenticator(
        sessions,
        regions,
        sign_outs=sign_outs,
        access_keys=access_keys(parse_keys(settings.internal_auth_keys)),
        access_key_id=settings.internal_auth_key_id,
        revocations=revocation_list,
    )
    app_passwords = AppPasswordChecks(
        upstreams,
        throttle,
        AppPasswordRevocations(devices),
        regions,
        ttl_seconds=settings.app_password_cache_seconds,
    )
    logins = Logins(
        sessions,
        upstreams,
        throttle,
        authenticator,
        ttl=timedelta(seconds=settings.session_ttl_seconds),
        access_ttl=timedelta(seconds=settings.access_ttl_seconds),
        uow=uow,
        devices=devices,
        # Second-step tickets are signed with the internal signing keys (rotation as for identity tokens).
        ticket_keys=parse_keys(settings.internal_auth_keys),
        ticket_key_id=settings.internal_auth_key_id,
    )
    return Services(
        settings=settings,
        mongo=mongo,
        sessions=sessions,
        devices=devices,
        events=events,
        upstreams=upstreams,
        throttle=throttle,
        authenticator=authenticator,
        logins=logins,
        forwarding=Forwarding(
            upstreams,
            authenticator,
            sessions,
            throttle,
            max_body_bytes=settings.max_body_bytes,
            held=HeldRequests(
                per_account=settings.held_requests_per_account,
                per_address=settings.held_requests_per_address,
                total=settings.held_requests_total,
            ),
            held_retry_seconds=settings.held_requests_retry_seconds,
            app_passwords=app_passwords,
        ),
        app_passwords=app_passwords,
        share_links=ShareLinks(upstreams, throttle),
        account_sessions=AccountSessions(authenticator, logins, devices),
        revocations=Revocations(
            uow,
            sign_outs,
            consumer=settings.service,
            app_passwords=app_passwords,
            revocation_list=revocation_list,
        ),
        # No read limit: a PUT's answer comes once the whole body is stored, a COPY's once a folder is.
        webdav_client=StreamClient(connect_timeout=5.0, read_timeout=None, max_connections=200),
        webdav_url=settings.webdav_url.rstrip("/"),
        webdav_callers=WebdavCallers(authenticator, app_passwords),
        stored_bytes=StoredBytes(StreamClient(connect_timeout=5.0, read_timeout=60.0)),
        revocation_list=revocation_list,
    )

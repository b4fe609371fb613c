"""The WebDAV service's composition root: the HTTP clients to the services it works through, its
MongoDB (locks, dead properties, file facts, pending writes), WsgiDAV on the provider
(`main.py` puts `api/dav.py`'s `DavEntry` in front)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pymongo import MongoClient
from wsgidav.error_printer import ErrorPrinter
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from docstore_kit.auth import InternalAuth
from docstore_kit.http_transport import default_limits, sync_client
from docstore_webdav.adapters.backend import Backend
from docstore_webdav.adapters.errors import QuietErrors
from docstore_webdav.adapters.stores import (
    FileFacts,
    LockStorageMongo,
    PendingWrites,
    PropertyStoreMongo,
    sync_mongo,
)
from docstore_webdav.service_layer.parts import PartPool
from docstore_webdav.service_layer.provider import DocStoreProvider
from docstore_webdav.settings import Settings

SERVICE_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
S3_TIMEOUT = httpx.Timeout(300.0, connect=5.0)


@dataclass
class Services:
    settings: Settings
    mongo: MongoClient[Any]
    backend: Backend
    auth: InternalAuth
    dav: Any
    """WsgiDAV on the provider (a WSGI app); `api/dav.py`'s `DavEntry` goes in front of it."""
    provider: DocStoreProvider
    """The provider, for `api/redirect.py`'s `GetRedirect` (between `DavEntry` and WsgiDAV)."""

    def close(self) -> None:
        for client in self.backend.clients.values():
            client.close()
        self.backend.s3.close()
        if self.provider.part_pool is not None:
            self.provider.part_pool.close()
        self.mongo.close()


def bootstrap(settings: Settings) -> Services:
    auth = InternalAuth.from_settings(settings)
    # The kit's pool, sized for the upload threads: its idle connections drop before uvicorn closes
    # them (an `httpx.Limits` of its own kept httpx's 5 s, and a WebDAV PUT got a 503, ci142).
    limits = default_limits(
        max_connections=settings.upload_threads * 2, max_keepalive_connections=settings.upload_threads
    )
    clients = {
        name: sync_client(base_url=url, timeout=SERVICE_TIMEOUT, limits=limits)
        for name, url in (
            ("metadata", settings.metadata_url),
            ("upload", settings.upload_url),
            ("quota", settings.quota_url),
            ("accounts", settings.accounts_url),
        )
    }
    backend = Backend(auth, clients, sync_client(timeout=S3_TIMEOUT, limits=limits))
    mongo = sync_mongo(settings)
    db = mongo[settings.mongodb_database]
    facts = FileFacts(db)
    pending = None
    if settings.pending_seconds > 0:
        pending = PendingWrites(db, seconds=max(settings.pending_seconds, settings.complete_wait_seconds))
        pending.open()
    provider = DocStoreProvider(
        backend,
        facts,
        complete_wait_seconds=settings.complete_wait_seconds,
        spool_dir=settings.spool_dir,
        small_body_bytes=settings.small_body_bytes,
        pending=pending,
        parts_in_flight=settings.put_parts_in_flight,
        part_buffer_bytes=settings.put_part_buffer_bytes,
        part_pool=PartPool(settings.put_parts_total) if settings.put_parts_in_flight > 0 else None,
    )
    config = {
        "provider_mapping": {"/": provider},
        "lock_storage": LockStorageMongo(db, max_seconds=settings.lock_max_seconds),
        "property_manager": PropertyStoreMongo(db),
        "middleware_stack": [ErrorPrinter, QuietErrors, RequestResolver],
        "http_authenticator": {"domain_controller": None, "accept_basic": False, "accept_digest": False},
        "simple_dc": {"user_mapping": {"*": True}},
        "dir_browser": {"enable": False},
        "logging": {"enable": False},
        "verbose": 1,
        "add_header_MS_Author_Via": True,
        "block_size": settings.block_size,
    }
    return Services(
        settings=settings, mongo=mongo, backend=backend, auth=auth, dav=WsgiDAVApp(config), provider=provider
    )

"""Settings of the WebDAV service (env: WEBDAV_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "webdav"

    port: int = 8087
    metadata_url: str = "http://127.0.0.1:8081"
    upload_url: str = "http://127.0.0.1:8082"
    quota_url: str = "http://127.0.0.1:8083"
    lock_max_seconds: int = 600
    """The longest a lock lives without a refresh (clients ask for more, or infinity: they get
    this). Short, so a client that vanished holds nothing for long."""
    upload_threads: int = 32
    """WSGI worker threads (a2wsgi): requests served at once by one process."""
    complete_wait_seconds: float = 60.0
    """How long a PUT waits for upload's read-back of a multipart upload before answering."""
    max_propfind_bytes: int = 100_000
    """The largest PROPFIND/PROPPATCH/LOCK body read: more is 413."""

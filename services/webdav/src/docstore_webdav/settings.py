"""Settings of the WebDAV service (env: WEBDAV_<NAME>, then <NAME>)."""

from __future__ import annotations

from docstore_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service = "webdav"

    port: int = 8087
    metadata_url: str = "http://127.0.0.1:8081"
    upload_url: str = "http://127.0.0.1:8082"
    quota_url: str = "http://127.0.0.1:8083"
    accounts_url: str = "http://127.0.0.1:8086"
    """The account (username, plan) is the accounts service's (issue 36)."""
    lock_max_seconds: int = 600
    """The longest a lock lives without a refresh (clients ask for more, or infinity: they get
    this). Short, so a client that vanished holds nothing for long."""
    upload_threads: int = 32
    """WSGI worker threads (a2wsgi): requests served at once by one process."""
    complete_wait_seconds: float = 60.0
    """How long a PUT waits for upload's read-back of a multipart upload before answering."""
    pending_seconds: float = 300.0
    """How long a PUT answered before metadata shows it is kept as a pending write
    (domain/pending.py); 0: no pending writes, a PUT waits until metadata shows it."""
    redirect_user_agents: list[str] = ["rclone/", "Go-http-client/"]
    """GETs from a client whose User-Agent starts with one of these are answered 302 to the signed
    S3 URL (they follow redirects); every other client is streamed unless it sends
    `X-DocStore-Redirect: follow` (domain/redirects.py). Empty: always stream."""
    block_size: int = 1024 * 1024
    """Bytes WsgiDAV reads and writes at a time (its default, 8 KiB, costs a message through
    a2wsgi and uvicorn per 8 KiB)."""
    small_body_bytes: int = 1024 * 1024
    """A PUT body of at most this many bytes is held until it has arrived (its sha256 first: dedupe,
    and a presigned PUT pinned to it); larger ones stream. Bounds memory at threads x this."""
    put_parts_in_flight: int = 4
    """Parts of one multipart PUT sent at once while its body is still read (each gathered whole
    first: service_layer/parts.py); 0: one part at a time, each streamed as it arrives."""
    put_part_buffer_bytes: int = 160 * 1024 * 1024
    """The most one PUT holds in parts: fewer parts are in flight when (in flight + 1) x the part
    size would pass it, none (one streamed part at a time) when not even two parts fit."""
    put_parts_total: int = 16
    """Parts sending at once across all PUTs of the process (bounds its part buffers)."""
    spool_dir: str | None = None
    """Where a PUT body without a declared size is spooled before its upload (None: the system's
    temporary folder)."""
    max_propfind_bytes: int = 100_000
    """The largest PROPFIND/PROPPATCH/LOCK body read: more is 413."""

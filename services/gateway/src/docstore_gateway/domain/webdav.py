"""The WebDAV edge (issue 38), pure: which paths go to the webdav service, what an app password's
scope allows there, which headers travel, and the Destination header made path-only.

Clients use Nextcloud's and ownCloud's URL forms, so their settings work unchanged:
`/remote.php/dav/files/{username}/...` and `/remote.php/webdav/...`."""

from __future__ import annotations

from urllib.parse import urlsplit

from docstore_gateway.domain.errors import AppPasswordNotAllowed

PREFIXES = ("/remote.php/dav/files/", "/remote.php/webdav")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})
WRITE_METHODS = frozenset({"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"})
METHODS = READ_METHODS | WRITE_METHODS

REQUEST_HEADERS = frozenset(
    {
        "accept", "content-type", "content-length", "depth", "destination", "overwrite", "if", "lock-token",
        "timeout", "range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
        "x-oc-mtime", "oc-checksum", "oc-total-length", "x-expected-entity-length", "user-agent",
        "x-docstore-redirect",
    }
)  # fmt: skip
RESPONSE_HEADERS = frozenset(
    {
        "content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified", "dav",
        "allow", "ms-author-via", "lock-token", "location", "x-oc-mtime", "oc-fileid", "oc-etag", "retry-after",
        "cache-control", "content-disposition",
        "server-timing",
    }
)  # fmt: skip


def is_webdav(path: str) -> bool:
    return path.startswith(PREFIXES[0]) or path == PREFIXES[1] or path.startswith(PREFIXES[1] + "/")


def scope_refusal(scope: str | None, method: str) -> AppPasswordNotAllowed | None:
    """Why an app password of `scope` may not send `method` here (None: a bearer token, or allowed)."""
    if scope is None or scope == "webdav-sync":
        return None
    if scope == "read-only" and method.upper() in READ_METHODS:
        return None
    if scope == "read-only":
        return AppPasswordNotAllowed("this app password is read-only: GET, HEAD, OPTIONS and PROPFIND only")
    return AppPasswordNotAllowed("this app password's scope allows nothing here")


def destination_path(header: str, *, request_host: str) -> str | None:
    """The Destination (an absolute URL or path) as a path on this host, or None when it names
    another host or is not a WebDAV path (the service answers 502 for both, as RFC 4918 allows)."""
    parts = urlsplit(header.strip())
    if parts.netloc and parts.netloc.lower() != request_host.lower():
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path


def without_body(status: int) -> bool:
    """An answer that carries no body (RFC 9110 6.4.1), so no Content-Length goes with it either."""
    return status in (204, 304) or 100 <= status < 200


def handoff_length(byte_range: str) -> int | None:
    """How many bytes a handoff's range (`bytes=first-last`, from the webdav service) holds; None
    when it is not one such range."""
    unit, _, span = byte_range.strip().partition("=")
    first, dash, last = span.partition("-")
    if unit != "bytes" or not dash or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        return None
    return int(last) - int(first) + 1

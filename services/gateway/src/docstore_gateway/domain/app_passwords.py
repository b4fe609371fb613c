"""App passwords at the edge (issue 36): reading `Authorization: Basic`, and what an app
password may do.

An app password (the accounts service owns them: `services/accounts`, README "App passwords") is for one tool
that speaks only a username and a password: a WebDAV client, rclone, a script. The gateway takes
it with the username over HTTP Basic on API routes and forwards the same identity as for a bearer
token, within the app password's scope. It never reaches the account's settings and security
(password, two-step sign-in, e-mail, app passwords themselves, sessions, deletion, plan) nor admin
routes, and a `read-only` one only reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from docstore_gateway.domain.errors import AppPasswordNotAllowed
from docstore_gateway.domain.sessions import Caller

SCOPES = ("webdav-sync", "read-only")
READ_METHODS = frozenset({"GET", "HEAD"})
CLOSED_PREFIXES = ("account", "accounts", "admin", "sessions")
"""First path segments (after `/v1`) no app password reaches: the account and its security, and
admin routes. The gateway's own session routes check bearer tokens only."""
MAX_BASIC_BYTES = 2048


@dataclass(frozen=True)
class AppPasswordCaller:
    """Who a request with an app password is, as the accounts service answered it."""

    account_id: str
    role: str
    app_password_id: str
    scope: str

    @property
    def caller(self) -> Caller:
        return Caller(self.account_id, self.role)


def is_basic(authorization: str | None) -> bool:
    return authorization is not None and authorization.partition(" ")[0].lower() == "basic"


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(username, password) of `Authorization: Basic base64(username:password)` (RFC 7617,
    UTF-8), or None for another scheme or anything malformed."""
    if not authorization or len(authorization) > MAX_BASIC_BYTES:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not username.strip() or not password:
        return None
    return username, password


def cache_key(username: str, password: str) -> str:
    """What a checked pair is remembered under: a SHA-256, never the password."""
    material = f"{username.strip().lower()}\0{password}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()


def refusal(scope: str, method: str, template: str) -> AppPasswordNotAllowed | None:
    """Why an app password of `scope` may not make this request (the route's own template,
    `/documents/{document_id}`), or None when it may."""
    first = template.strip("/").split("/")[0]
    if first in CLOSED_PREFIXES:
        return AppPasswordNotAllowed(
            "app passwords do not reach account settings, security or admin routes: sign in to the web app"
        )
    if scope not in SCOPES:
        return AppPasswordNotAllowed("this app password's scope allows nothing here")
    if scope == "read-only" and method.upper() not in READ_METHODS:
        return AppPasswordNotAllowed("this app password is read-only: it may only read (GET)")
    return None


def trusted(checked_at: datetime, revoked_after: datetime | None) -> bool:
    """Whether a check made at `checked_at` still stands after the account's last app-password
    revocation (None: never)."""
    return revoked_after is None or checked_at > revoked_after

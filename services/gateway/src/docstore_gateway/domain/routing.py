"""Which public paths exist, who owns them, and what a path may look like at all.

The gateway forwards only what `ROUTE_TABLE` names: (method, path template, owning service,
public or authenticated, admin only). A path is first checked on its raw bytes and on its
decoded form (`checked_segments`): dot segments, backslashes, encoded slashes, control
characters, malformed encodings and double slashes are refused before any routing. What is left
is matched segment by segment against the table, each parameter against its type, and the
request goes on with a path the gateway builds itself (`Match.path`), never the client's string.
`/internal/...` routes are in no entry, so they cannot be reached however the path is spelt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from docstore_gateway.domain.errors import BadPath, MethodNotAllowed

__all__ = [
    "IDENTITY",
    "ROUTE_TABLE",
    "PASSWORD_RESET",
    "SIGN_UP",
    "BadPath",
    "Match",
    "MethodNotAllowed",
    "PublicRoute",
    "checked_segments",
    "resolve",
    "route_for",
]


# --- checking a path -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 (NUL included), DEL and C1 control characters, once decoded."""
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_RAW_ALLOWED = re.compile(rb"[\x21-\x7e]*")
"""Printable ASCII: anything else in a request target must be percent-encoded."""

DOT_SEGMENT = "the path holds a '.' or '..' segment (plain or percent-encoded): ask for the resource by its own path"
BACKSLASH = "the path holds a backslash (plain or %5C): use '/' between segments"
ENCODED_SLASH = "the path holds an encoded slash (%2F) inside a segment"
CONTROL = "the path holds a control character"
DOUBLE_SLASH = "the path holds two slashes in a row"
ENCODING = "the path is not valid percent-encoded UTF-8"
NOT_ABSOLUTE = "the path must start with '/'"


def _check_decoded(segment: str) -> None:
    if segment in (".", ".."):
        raise BadPath(DOT_SEGMENT)
    if "\\" in segment:
        raise BadPath(BACKSLASH)
    if "/" in segment:
        raise BadPath(ENCODED_SLASH)
    if _CONTROL.search(segment):
        raise BadPath(CONTROL)


def checked_segments(raw_path: bytes | None, path: str) -> list[str]:
    """The decoded segments of a request path (`/v1/documents/x` -> `["v1", "documents", "x"]`),
    or BadPath. `raw_path` is the request target as the client sent it (ASGI `raw_path`, which
    keeps `%2e` and `%2f` encoded; a query string after `?` is ignored); `path` is the server's
    decoded path (ASGI `path`). Both are checked, so neither spelling can hide a trick."""
    raw = (raw_path.partition(b"?")[0] if raw_path else quote(path, safe="/").encode("ascii")) or b"/"
    if not raw.startswith(b"/") or not path.startswith("/"):
        raise BadPath(NOT_ABSOLUTE)
    if not _RAW_ALLOWED.fullmatch(raw):
        raise BadPath(CONTROL if re.search(rb"[\x00-\x20\x7f]", raw) else ENCODING)
    if b"\\" in raw:
        raise BadPath(BACKSLASH)
    if b"//" in raw or "//" in path:
        raise BadPath(DOUBLE_SLASH)
    segments = []
    for raw_segment in raw[1:].split(b"/"):
        lowered = raw_segment.lower()
        if b"%5c" in lowered:
            raise BadPath(BACKSLASH)
        if b"%2f" in lowered:
            raise BadPath(ENCODED_SLASH)
        if _BAD_PERCENT.search(raw_segment):
            raise BadPath(ENCODING)
        try:
            segment = unquote_to_bytes(raw_segment).decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath(ENCODING) from None
        _check_decoded(segment)
        segments.append(segment)
    # The server's own decoding must tell the same story (it may differ if a proxy rewrote it).
    for segment in path[1:].split("/"):
        _check_decoded(segment)
    return segments


# --- the route table ------------------------------------------------------------------------

PARAMETER_TYPES: dict[str, re.Pattern[str]] = {
    # Ids DocStore hands out: UUIDs (documents, accounts, uploads); a little wider, never a slash.
    "id": re.compile(r"[A-Za-z0-9._~:-]{1,200}"),
    "int": re.compile(r"[0-9]{1,12}"),
    # Signatures and tokens in signed links: hex or URL-safe base64.
    "token": re.compile(r"[A-Za-z0-9_-]{1,512}"),
    # Kafka topic names (the dead letters' topics).
    "topic": re.compile(r"[A-Za-z0-9._-]{1,249}"),
}
PARAMETERS: dict[str, str] = {
    "document_id": "id",
    "folder_id": "id",
    "account_id": "id",
    "grantee_id": "id",
    "link_id": "id",
    "webhook_id": "id",
    "delivery_id": "id",
    "app_password_id": "id",
    "identity_id": "id",
    "upload_id": "id",
    "version": "int",
    "signature": "token",
    "token": "token",
    "topic": "topic",
    "partition": "int",
    "offset": "int",
    "table": "token",
}
"""Every path parameter of a public route, by name, and its type."""

_PARAMETER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class PublicRoute:
    """One public operation: `template` is the owning service's own path (the gateway serves it
    under `/v1`); `public` routes need no bearer token; `admin` routes need the admin role."""

    method: str
    template: str
    service: str
    public: bool = False
    admin: bool = False
    held: bool = False
    """A long poll (`?wait=`): capped per account and address, on a connection pool of its own
    (`domain/held.py`)."""

    def __post_init__(self) -> None:
        for part in self.parts:
            name = _PARAMETER.fullmatch(part)
            if name and name.group(1) not in PARAMETERS:
                raise ValueError(f"{self.template}: path parameter {name.group(1)!r} has no type in PARAMETERS")
        if self.parts[0] == "internal":
            raise ValueError(f"{self.template}: internal routes are never public")

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))

    def matches(self, segments: list[str]) -> bool:
        """Whether decoded `segments` (after `v1`) fit this route's literals and parameter types."""
        parts = self.parts
        if len(parts) != len(segments):
            return False
        for part, segment in zip(parts, segments, strict=True):
            name = _PARAMETER.fullmatch(part)
            if name is None:
                if part != segment:
                    return False
            elif not PARAMETER_TYPES[PARAMETERS[name.group(1)]].fullmatch(segment):
                return False
        return True

    def specificity(self) -> tuple[bool, ...]:
        """Literal segments beat parameters, leftmost first (`/documents/search` before `/documents/{id}`)."""
        return tuple(_PARAMETER.fullmatch(part) is None for part in self.parts)


def _routes(service: str, *rows: tuple[str, str] | tuple[str, str, str]) -> list[PublicRoute]:
    return [
        PublicRoute(
            row[0], row[1], service, public="public" in row[2:], admin="admin" in row[2:], held="held" in row[2:]
        )
        for row in rows
    ]


IDENTITY = "accounts"
"""The service that owns identity: sign-up, the account, credentials, two-step sign-in, app
passwords (the routes below, and the gateway's internal checks, `adapters/upstreams.py`; issue 36,
services/accounts/README.md)."""

ROUTE_TABLE: tuple[PublicRoute, ...] = tuple(
    _routes(
        IDENTITY,
        ("POST", "/accounts", "public"),  # sign-up
        ("GET", "/account"),
        ("DELETE", "/account"),
        ("PUT", "/account/plan"),
        ("GET", "/plans"),  # the plans' monthly prices (issue 37), shown before a plan change
        # Account security (issue 20): the mailed-link routes are public (the token is the credential).
        ("GET", "/account/security"),
        ("POST", "/account/email/verify", "public"),
        ("POST", "/account/email/verification"),
        ("PUT", "/account/email"),
        ("POST", "/account/password-reset", "public"),
        ("POST", "/account/password-reset/confirm", "public"),
        ("PUT", "/account/password"),
        ("POST", "/account/mfa/enrol"),
        ("POST", "/account/mfa/confirm"),
        ("DELETE", "/account/mfa"),
        # App passwords (issue 36): for tools over HTTP Basic; managed with a signed-in session only.
        ("GET", "/account/app-passwords"),
        ("POST", "/account/app-passwords"),
        ("DELETE", "/account/app-passwords/{app_password_id}"),
        # Identities of OpenID providers linked to the account (issue 36): listed and unlinked like app passwords.
        ("GET", "/account/identities"),
        ("DELETE", "/account/identities/{identity_id}"),
        ("GET", "/admin/accounts/{account_id}", "admin"),  # the dashboard names top accounts with it
        ("POST", "/admin/consistency/accounts", "admin"),  # run the accounts outbox check now (issue 32)
        # The audit trail (what each account did; accounts' audit module since issue 36).
        ("GET", "/account/activity"),
        ("GET", "/account/activity/verify"),
        ("GET", "/admin/audit", "admin"),
        ("GET", "/admin/audit/export", "admin"),
        ("POST", "/admin/audit/verify", "admin"),
    )
    + _routes(
        "links",
        ("POST", "/documents/{document_id}/links"),  # public share links (the page itself is /s/{token})
        ("GET", "/documents/{document_id}/links"),
        ("GET", "/documents/{document_id}/link-policy"),
        ("PUT", "/documents/{document_id}/link-policy"),
        ("GET", "/links"),
        ("PATCH", "/links/{link_id}"),
        ("DELETE", "/links/{link_id}"),
        ("POST", "/admin/consistency/links", "admin"),  # run the links outbox check now (issue 32)
    )
    + _routes(
        "metadata",
        ("GET", "/account/follows"),
        ("GET", "/documents"),
        ("GET", "/documents/search"),
        ("GET", "/documents/{document_id}"),
        ("PATCH", "/documents/{document_id}"),
        ("DELETE", "/documents/{document_id}"),
        ("POST", "/documents/{document_id}/restore"),
        ("GET", "/documents/{document_id}/versions"),
        ("POST", "/documents/{document_id}/versions/{version}/restore"),
        ("GET", "/documents/{document_id}/download"),
        ("GET", "/documents/{document_id}/versions/{version}/preview"),  # a signed URL for a preview image
        ("POST", "/documents/previews"),  # signed URLs for a page of previews at once
        ("POST", "/documents/{document_id}/shares"),
        ("GET", "/documents/{document_id}/shares"),
        ("DELETE", "/documents/{document_id}/shares/{grantee_id}"),
        ("GET", "/shared"),
        ("GET", "/people"),  # finding a person to share with (issue 37)
        ("PUT", "/documents/{document_id}/follow"),
        ("DELETE", "/documents/{document_id}/follow"),
        # Folders as a whole (issue 37): create, list, rename/move, trash, restore.
        ("POST", "/folders"),
        ("GET", "/folders"),
        ("GET", "/folders/at"),
        ("GET", "/paths/at"),  # the folder or the document at a path (WebDAV resolves each request so)
        ("GET", "/folders/{folder_id}"),
        ("PATCH", "/folders/{folder_id}"),
        ("DELETE", "/folders/{folder_id}"),
        ("POST", "/folders/{folder_id}/restore"),
        ("GET", "/changes", "held"),  # a long poll with ?wait=
        ("POST", "/sync/compare"),
        ("POST", "/admin/consistency/metadata", "admin"),  # run metadata's consistency checks now (issue 32)
    )
    + _routes(
        "upload",
        ("POST", "/uploads"),
        ("POST", "/uploads/batch"),  # many forms in one request (upload's README)
        ("POST", "/uploads/batch/complete"),  # many completions in one request
        ("POST", "/uploads/credentials"),  # temporary S3 credentials for the caller's staging prefix
        ("GET", "/uploads/{upload_id}"),
        ("DELETE", "/uploads/{upload_id}"),
        ("GET", "/uploads/{upload_id}/parts"),
        ("POST", "/uploads/{upload_id}/complete"),
        # Where S3 sends a browser after a form upload: the signature is the credential.
        ("GET", "/uploads/{upload_id}/done/{signature}", "public"),
        ("POST", "/admin/consistency/uploads", "admin"),  # run the completed-uploads check now (issue 32)
    )
    + _routes(
        "quota",
        ("GET", "/usage"),
        ("GET", "/admin/totals", "admin"),
        ("GET", "/admin/accounts/top", "admin"),
        ("GET", "/admin/accounts/over-quota", "admin"),
        ("GET", "/admin/reconciliation", "admin"),
        ("POST", "/admin/reconciliation", "admin"),
        ("GET", "/admin/dlq", "admin"),
        ("POST", "/admin/dlq/{topic}/{partition}/{offset}/replay", "admin"),
        ("POST", "/admin/consistency/quota", "admin"),  # run quota's consistency check now (issue 32)
    )
    + _routes(
        "indexer",
        ("GET", "/search"),
        ("GET", "/search/status"),
        ("POST", "/admin/consistency/indexer", "admin"),  # run the indexer's consistency check now (issue 32)
    )
    + _routes(
        "notify",
        ("GET", "/notifications"),
        ("GET", "/notifications/preferences"),
        ("PUT", "/notifications/preferences"),
        # A mail's unsubscribe link (the token is the credential), and its RFC 8058 one-click POST.
        ("GET", "/notifications/unsubscribe/{token}", "public"),
        ("POST", "/notifications/unsubscribe/{token}", "public"),
        # Webhooks (issue 38): the owner's endpoints, their deliveries and a test event.
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", "/webhooks/{webhook_id}"),
        ("PATCH", "/webhooks/{webhook_id}"),
        ("DELETE", "/webhooks/{webhook_id}"),
        ("GET", "/webhooks/{webhook_id}/deliveries"),
        ("POST", "/webhooks/{webhook_id}/test"),
        ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"),
    )
    + _routes(
        "analytics",
        ("GET", "/analytics/usage"),  # the caller's storage over time and what takes the room
        ("GET", "/analytics/links"),  # the caller's public links' downloads per day
        ("GET", "/admin/analytics", "admin"),
        ("GET", "/admin/analytics/top/{table}", "admin"),
        ("GET", "/admin/analytics/export/{table}", "admin"),  # CSV, an audit record each
        ("POST", "/admin/analytics/rebuild", "admin"),
    )
)
SIGN_UP = next(r for r in ROUTE_TABLE if (r.method, r.template) == ("POST", "/accounts"))
PASSWORD_RESET = next(r for r in ROUTE_TABLE if (r.method, r.template) == ("POST", "/account/password-reset"))
"""Public, and each request costs accounts an argon2 verification (the equal work that hides
whether the account exists) and a hand-over to every other region: throttled per address."""


@dataclass(frozen=True)
class Match:
    route: PublicRoute
    path: str
    """The path to send to the owning service, rebuilt from the checked segments (`documents/x`)."""


def resolve(method: str, segments: list[str], table: tuple[PublicRoute, ...] = ROUTE_TABLE) -> Match | None:
    """The table entry for `method` and the decoded, checked `segments` after `/v1`; None when no
    entry has this path (404); MethodNotAllowed when entries have it for other methods (405)."""
    candidates = [route for route in table if route.matches(segments)]
    if not candidates:
        return None
    for_method = [route for route in candidates if route.method == method.upper()]
    if not for_method:
        raise MethodNotAllowed(tuple(sorted({route.method for route in candidates})))
    route = max(for_method, key=PublicRoute.specificity)
    return Match(route, "/".join(quote(segment, safe="") for segment in segments))


def route_for(method: str, template: str, table: tuple[PublicRoute, ...] = ROUTE_TABLE) -> PublicRoute | None:
    """The entry declared for a service's own path template (`/documents/{document_id}`), if any."""
    return next((r for r in table if r.method == method.upper() and r.template == template), None)

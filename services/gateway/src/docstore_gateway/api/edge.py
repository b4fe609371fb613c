"""The gateway's edge: every request's path is checked before routing, and every response (API,
web app, docs, errors, 404s, even a 500) carries the browser security headers.

`install_edge(app, settings)` wraps the whole middleware stack, outside Starlette's
ServerErrorMiddleware, so nothing the app answers can leave without the headers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docstore_gateway.api.share_page import PAGE_PREFIX, STYLE_HASH
from docstore_gateway.domain.routing import BadPath, checked_segments
from docstore_gateway.settings import Settings
from docstore_kit.api_docs import DOC_PAGES, swagger_ui_html

DOCS_TITLE = "DocStore API"


def docs_html() -> str:
    """The Swagger UI page served at /docs (`service_app` serves it, and its assets, from this
    process: no CDN)."""
    return swagger_ui_html(DOCS_TITLE)


def _policy(directives: Iterable[tuple[str, Iterable[str]]]) -> str:
    return "; ".join(" ".join([name, *dict.fromkeys(sources)]) for name, sources in directives)


def content_security_policy(settings: Settings) -> str:
    """The policy of every response but /docs and /redoc: the web app's own files only; it may connect to
    every region's gateway (a login follows a 307 home) and to S3 (uploads go straight there), and
    show images from S3 (previews, through signed URLs)."""
    gateways = settings.cors_origins()
    s3 = [*settings.s3_origins(), *settings.extra_origins()]
    return _policy(
        [
            ("default-src", ["'self'"]),
            ("frame-ancestors", ["'none'"]),
            ("connect-src", ["'self'", *gateways, *s3]),
            # Preview images load straight from S3 (signed GET URLs; metadata signs them).
            ("img-src", ["'self'", "data:", *s3]),
            ("style-src", ["'self'"]),
            ("script-src", ["'self'"]),
            ("object-src", ["'none'"]),
            ("base-uri", ["'none'"]),
            ("form-action", ["'self'", *s3]),
        ]
    )


def docs_security_policy() -> str:
    """/docs and /redoc only: their scripts and styles from this gateway, Swagger UI's one inline
    script allowed by hash (not 'unsafe-inline'); 'Try it out' calls this gateway only."""
    inline = re.findall(r"<script>(.*?)</script>", docs_html(), flags=re.DOTALL)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'" for code in inline]
    return _policy(
        [
            ("default-src", ["'self'"]),
            ("frame-ancestors", ["'none'"]),
            ("connect-src", ["'self'"]),
            ("img-src", ["'self'", "data:"]),
            # Swagger UI and ReDoc set inline styles on their elements; styles cannot run code.
            ("style-src", ["'self'", "'unsafe-inline'"]),
            ("script-src", ["'self'", *hashes]),
            # ReDoc runs its search index in a worker it builds from a blob.
            ("worker-src", ["'self'", "blob:"]),
            ("font-src", ["'self'", "data:"]),
            ("object-src", ["'none'"]),
            ("base-uri", ["'none'"]),
            ("form-action", ["'self'"]),
        ]
    )


def hsts_header(settings: Settings) -> tuple[bytes, bytes] | None:
    """`Strict-Transport-Security`, sent only on responses to HTTPS requests (served with TLS, or
    forwarded by a proxy that says `X-Forwarded-Proto: https`): over plain http a browser ignores it."""
    if settings.hsts_max_age_seconds <= 0:
        return None
    value = f"max-age={settings.hsts_max_age_seconds}" + (
        "; includeSubDomains" if settings.hsts_include_subdomains else ""
    )
    return (b"strict-transport-security", value.encode())


def share_page_policy(settings: Settings) -> str:
    """Share-link pages (`/s/...`, `api/share_page.py`): the default policy, plus their one inline
    style allowed by hash; the form posts to the page itself and is redirected to S3."""
    return content_security_policy(settings).replace("style-src 'self'", f"style-src 'self' {STYLE_HASH}", 1)


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", csp.encode("latin-1")),
    ]


class EdgeMiddleware:
    """Refuses a malformed path with 400 before any routing, and adds the security headers to
    every response (replacing any the app set, so no route can weaken them)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: list[tuple[bytes, bytes]],
        docs_headers: list[tuple[bytes, bytes]] | None = None,
        hsts: tuple[bytes, bytes] | None = None,
        share_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.app = app
        self.headers = headers
        self.docs_headers = docs_headers or headers
        self.share_headers = share_headers or headers
        self.hsts = [hsts] if hsts else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope.get("path") in DOC_PAGES else self.headers
        if str(scope.get("path", "")).startswith(PAGE_PREFIX):
            extra = self.share_headers
        if scope.get("scheme") == "https":
            extra = extra + self.hsts
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        try:
            checked_segments(scope.get("raw_path"), scope.get("path", ""))
        except BadPath as bad:
            await _answer_400(bad, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def _answer_400(bad: BadPath, send: Send) -> None:
    body = json.dumps(bad.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", bad.media_type().encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_edge(app: FastAPI, settings: Settings) -> None:
    """Put EdgeMiddleware around everything the app builds, ServerErrorMiddleware included.

    `add_middleware` would sit inside ServerErrorMiddleware, whose 500s would then go out bare;
    so the app's own stack builder (already wrapped by OpenTelemetry) is wrapped once more."""
    build = app.build_middleware_stack
    headers = security_headers(content_security_policy(settings))
    docs_headers = security_headers(docs_security_policy())
    share_headers = security_headers(share_page_policy(settings))

    def build_middleware_stack() -> ASGIApp:
        return EdgeMiddleware(
            build(), headers=headers, docs_headers=docs_headers, hsts=hsts_header(settings), share_headers=share_headers
        )

    # Replacing a method on this one instance is the point: FastAPI offers no hook outside
    # ServerErrorMiddleware, and `service_app` builds the app, so no subclass can override it.
    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]  # see above

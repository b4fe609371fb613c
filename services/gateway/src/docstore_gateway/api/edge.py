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
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docstore_gateway.domain.routing import BadPath, checked_segments
from docstore_gateway.settings import Settings

DOCS_PATH = "/docs"
DOCS_TITLE = "DocStore API"
SWAGGER_CDN = "https://cdn.jsdelivr.net"
FASTAPI_FAVICON = "https://fastapi.tiangolo.com"


def docs_html() -> str:
    """The Swagger UI page served at /docs (its scripts and styles come from a CDN)."""
    return bytes(get_swagger_ui_html(openapi_url="/openapi.json", title=DOCS_TITLE).body).decode()


def _policy(directives: Iterable[tuple[str, Iterable[str]]]) -> str:
    return "; ".join(" ".join([name, *dict.fromkeys(sources)]) for name, sources in directives)


def content_security_policy(settings: Settings) -> str:
    """The policy of every response but /docs: the web app's own files only; it may connect to
    every region's gateway (a login follows a 307 home) and to S3 (uploads go straight there)."""
    gateways = settings.cors_origins()
    s3 = [*settings.s3_origins(), *settings.extra_origins()]
    return _policy(
        [
            ("default-src", ["'self'"]),
            ("frame-ancestors", ["'none'"]),
            ("connect-src", ["'self'", *gateways, *s3]),
            ("img-src", ["'self'", "data:"]),
            ("style-src", ["'self'"]),
            ("script-src", ["'self'"]),
            ("object-src", ["'none'"]),
            ("base-uri", ["'none'"]),
            ("form-action", ["'self'", *s3]),
        ]
    )


def docs_security_policy() -> str:
    """/docs only: Swagger UI's script and styles from its CDN, and its one inline script allowed
    by hash (not 'unsafe-inline'); 'Try it out' calls this gateway only."""
    inline = re.findall(r"<script>(.*?)</script>", docs_html(), flags=re.DOTALL)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'" for code in inline]
    return _policy(
        [
            ("default-src", ["'self'"]),
            ("frame-ancestors", ["'none'"]),
            ("connect-src", ["'self'"]),
            ("img-src", ["'self'", "data:", FASTAPI_FAVICON, SWAGGER_CDN]),
            # Swagger UI sets inline styles on its elements; styles cannot run code.
            ("style-src", ["'self'", SWAGGER_CDN, "'unsafe-inline'"]),
            ("script-src", ["'self'", SWAGGER_CDN, *hashes]),
            ("font-src", ["'self'", "data:", SWAGGER_CDN]),
            ("object-src", ["'none'"]),
            ("base-uri", ["'none'"]),
            ("form-action", ["'self'"]),
        ]
    )


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
        self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]], docs_headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.app = app
        self.headers = headers
        self.docs_headers = docs_headers or headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope.get("path") == DOCS_PATH else self.headers
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        try:
            checked_segments(scope.get("raw_path"), scope.get("path", ""))
        except BadPath as bad:
            await _answer_400(str(bad), send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def _answer_400(detail: str, send: Send) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
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

    def build_middleware_stack() -> ASGIApp:
        return EdgeMiddleware(build(), headers=headers, docs_headers=docs_headers)

    # Replacing a method on this one instance is the point: FastAPI offers no hook outside
    # ServerErrorMiddleware, and `service_app` builds the app, so no subclass can override it.
    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]  # see above

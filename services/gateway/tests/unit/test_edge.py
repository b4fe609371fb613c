"""The edge middleware on the real gateway app: security headers on every response, malformed
paths refused with 400 before routing. No lifespan: nothing here needs MongoDB."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import yaml
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from docstore_events import asyncapi
from docstore_gateway.api.edge import content_security_policy, docs_html, docs_security_policy
from docstore_gateway.bootstrap import bootstrap
from docstore_gateway.main import create_app
from docstore_gateway.settings import Settings
from docstore_kit.errors import PROBLEM_JSON

REGIONS = json.dumps(
    {
        "us-west-2": "https://us-west-2.docstore.example",
        "ap-southeast-2": "https://ap-southeast-2.docstore.example:8443/",
    }
)


@pytest.fixture(autouse=True)
def _no_endpoints_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings here are built from their arguments only: the test run exports real endpoints
    (S3_ENDPOINT_URL, ...) for the servers it starts, which would otherwise leak in."""
    import os

    for name in list(os.environ):
        if name.startswith(("S3_", "GATEWAY_", "REGION", "AWS_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    web = tmp_path_factory.mktemp("web")
    (web / "index.html").write_text("<!doctype html><title>t</title>")
    app = create_app(
        Settings(
            web_dir=str(web),
            region_gateways=REGIONS,
            s3_endpoint_url="http://127.0.0.1:8333",
            s3_public_endpoint_url="https://s3.docstore.example/",
        )
    )

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())  # before the web app's catch-all mount
    return app


async def raw_request(app: FastAPI, method: str, raw_path: str) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI app with exactly this request target (httpx would collapse `..`)."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 5000),
        "server": ("gateway.test", 80),
    }
    sent: list[dict] = []
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if requested:  # the client stays connected until the response is sent
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    except RuntimeError:  # ServerErrorMiddleware answers 500, then re-raises for the server to log
        pass
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


def assert_security_headers(headers: dict[str, str], *, docs: bool = False) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert not re.search(r"connect-src[^;]*\*", csp)
    assert "cdn." not in csp and "https:" not in csp.split("connect-src", 1)[0]
    assert ("'sha256-" in csp) == docs


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/index.html", 200),
        ("GET", "/no-such-file.js", 404),
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/v1/documents/%2e%2e/internal/accounts/a/documents/d", 400),
        ("GET", "/v1/documents/../internal/credentials/verify", 400),
        ("GET", "/a//b", 400),
        ("POST", "/index.html", 405),
        ("GET", "/boom", 500),
    ],
)
async def test_every_response_carries_the_security_headers(app: FastAPI, method: str, path: str, status: int) -> None:
    answered, headers, _ = await raw_request(app, method, path)
    assert answered == status
    assert_security_headers(headers)


async def test_docs_get_their_own_policy_that_allows_only_swagger_ui(app: FastAPI) -> None:
    status, headers, body = await raw_request(app, "GET", "/docs")
    assert status == 200 and body.decode() == docs_html()
    assert_security_headers(headers, docs=True)
    csp = headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert re.search(r"script-src [^;]*'sha256-[A-Za-z0-9+/=]+'", csp)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_load_only_same_origin_assets_that_the_policy_allows(app: FastAPI, page: str) -> None:
    status, headers, body = await raw_request(app, "GET", page)
    assert status == 200
    directives = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    html = body.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        # Same origin: a path, no scheme or host, so the policy's 'self' covers it and no CDN is asked.
        assert url.startswith("/") and not url.startswith("//"), url
        asset, asset_headers, content = await raw_request(app, "GET", url)
        assert asset == 200 and len(content) > 1000, url
        assert asset_headers["content-type"].split(";")[0] in {"text/javascript", "text/css", "image/png"}
    for kind, directive in (("script", "script-src"), ("stylesheet", "style-src")):
        if kind in html:
            assert "'self'" in directives[directive].split()
    assert "/openapi.json" in html


@pytest.mark.parametrize(
    "path",
    [
        "/v1/documents/%2e%2e/internal/accounts/a/documents/d",
        "/v1/documents/..%5cinternal",
        "/v1//documents",
        "/v1/documents/x%2Fy",
        "/v1/notifications/unsubscribe/X%1C",
        "/v1/documents/%0B",
        "/index.html/..",
        "/v1/documents/%3Cscript%3E%00",
    ],
)
async def test_malformed_paths_are_400_with_a_message_that_does_not_echo_them(app: FastAPI, path: str) -> None:
    status, headers, body = await raw_request(app, "GET", path)
    assert status == 400 and headers["content-type"] == PROBLEM_JSON
    assert json.loads(body)["type"] == "urn:docstore:problem:bad-path"
    detail = json.loads(body)["detail"]
    assert detail.startswith("the path ")
    for piece in ("internal", "script", "unsubscribe", "documents", "x%2F", "X%1C", "%0B"):
        assert piece not in detail


async def test_a_malformed_bearer_token_is_401_and_never_echoed(app: FastAPI) -> None:
    # Refused before any session lookup, so no MongoDB is needed to prove it.
    # A MongoDB nobody listens on: a session lookup would fail (500), so a 401 proves none was made.
    nowhere = AsyncMongoClient("mongodb://127.0.0.1:9", serverSelectionTimeoutMS=200, tz_aware=True)
    services = bootstrap(Settings(region_gateways=REGIONS), mongo=nowhere)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        for token in (
            "evil<script>.x",
            "us-west-2<script>.x",
            "mars-1.abcdefgh",
            "no-region-at-all",
            "us-west-2.",
            "us-west-2.a.b",
            "us-west-2.a/b",
            "..%2f..%2fetc.x",
        ):
            answer = await client.get("/v1/documents", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, (token, answer.text)
            assert "<" not in answer.text and (token.split(".")[0] or token) not in answer.text
            assert "location" not in answer.headers
            assert_security_headers(dict(answer.headers))
    await services.aclose()


def test_the_policy_names_every_region_gateway_and_the_s3_origin() -> None:
    csp = content_security_policy(
        Settings(
            region_gateways=REGIONS,
            s3_endpoint_url="http://127.0.0.1:8333",
            s3_public_endpoint_url="https://s3.docstore.example/base",
        )
    )
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["connect-src"].split() == [
        "'self'",
        "https://ap-southeast-2.docstore.example:8443",
        "https://us-west-2.docstore.example",
        "https://s3.docstore.example",
    ]
    assert directives["form-action"].split() == ["'self'", "https://s3.docstore.example"]
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["img-src"].split() == ["'self'", "data:", "https://s3.docstore.example"]  # previews
    assert directives["style-src"] == "'self'"
    # Without a public endpoint, the endpoint the services use; without either, AWS's regional one.
    assert "http://127.0.0.1:8333" in content_security_policy(Settings(s3_endpoint_url="http://127.0.0.1:8333/"))
    assert "https://s3.eu-west-1.amazonaws.com" in content_security_policy(
        Settings(aws_default_region="eu-west-1", s3_endpoint_url="", s3_public_endpoint_url="")
    )
    assert "https://s3-b.example" in content_security_policy(Settings(csp_extra_origins="https://s3-b.example/x"))


def test_docs_policy_hash_matches_the_inline_script() -> None:
    import base64
    import hashlib

    (inline,) = re.findall(r"<script>(.*?)</script>", docs_html(), flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in docs_security_policy()


def test_the_web_apps_meta_policy_allows_no_connection_anywhere() -> None:
    index = next(
        p / "web" / "index.html" for p in Path(__file__).resolve().parents if (p / "web" / "index.html").is_file()
    )
    meta = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', index.read_text())
    assert meta is not None
    connect = re.search(r"connect-src([^;]*)", meta.group(1))
    assert connect is not None and not re.search(r"(^|\s)\*(\s|$)", connect.group(1))
    assert "'unsafe-inline'" not in meta.group(1)


async def test_the_asyncapi_document_is_served_as_json_and_yaml(app: FastAPI) -> None:
    status, headers, body = await raw_request(app, "GET", "/asyncapi")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == asyncapi.document()
    assert json.loads(body)["asyncapi"].startswith("3.")
    status, headers, body = await raw_request(app, "GET", "/asyncapi.yaml")
    assert status == 200 and headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(body) == asyncapi.document()

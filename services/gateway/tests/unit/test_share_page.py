"""The share link page's pure parts: escaping, the password field, its CSP, and that `/s/<token>`
is redacted in log lines and span attributes."""

from __future__ import annotations

import base64
import hashlib

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docstore_gateway.api.edge import share_page_policy
from docstore_gateway.api.share_page import STYLE, STYLE_HASH, TOKEN, download_page, refusal
from docstore_gateway.settings import Settings
from docstore_kit.observability import RedactSpanPaths, redact_signed_paths, redact_span_attributes

TOKEN_VALUE = "eu8-91ALDZamghD03CAS4Cb078i2hmglQiJ71s6kbew"


def test_values_are_escaped_and_a_protected_link_asks_for_its_password() -> None:
    link = {"name": "<img src=x onerror=alert(1)>.pdf", "size": 2048, "note": "a & b <script>", "protected": True}
    page = download_page(link).body.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.pdf" in page
    assert "<script" not in page and "a &amp; b &lt;script&gt;" in page
    assert 'type="password"' in page and "2.0 KB" in page
    assert 'method="post"' in page and "action=" not in page
    open_link = download_page({"name": "a.txt", "size": 1, "note": None, "protected": False}).body.decode()
    assert 'type="password"' not in open_link


def test_a_refusal_is_a_plain_page_with_its_status() -> None:
    answer = refusal(410, "Gone <now>", "Ask <them>.")
    assert answer.status_code == 410 and answer.headers["cache-control"] == "no-store"
    assert "Gone &lt;now&gt;" in answer.body.decode() and "<now>" not in answer.body.decode()


def test_the_pages_policy_allows_exactly_its_own_style() -> None:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    assert STYLE_HASH == f"'sha256-{digest}'"
    policy = share_page_policy(Settings())
    assert f"style-src 'self' {STYLE_HASH}" in policy
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy


def test_what_can_be_a_token() -> None:
    assert TOKEN.fullmatch(TOKEN_VALUE)
    for bad in ("short", "has space in it and is long enough", "a" * 513, "<script>alert(1)</script>xxxxxx"):
        assert not TOKEN.fullmatch(bad)


def test_the_token_is_redacted_in_lines_and_spans() -> None:
    assert redact_signed_paths(f'"GET /s/{TOKEN_VALUE} HTTP/1.1" 200') == '"GET /s/[redacted] HTTP/1.1" 200'
    assert redact_signed_paths(f"http://gw:8080/s/{TOKEN_VALUE}?x=1") == "http://gw:8080/s/[redacted]?[redacted]"
    assert redact_signed_paths("/v1/links/lnk_1") == "/v1/links/lnk_1"

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(RedactSpanPaths())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(f"GET /s/{TOKEN_VALUE}", attributes={"url.path": f"/s/{TOKEN_VALUE}"}) as span:
        # As the ASGI instrumentation does: the attributes set again after the start, then the hook.
        span.set_attribute("http.target", f"/s/{TOKEN_VALUE}")
        redact_span_attributes(span)
    [finished] = exporter.get_finished_spans()
    assert TOKEN_VALUE not in repr(dict(finished.attributes or {})) and TOKEN_VALUE not in finished.name
    assert finished.attributes is not None and finished.attributes["http.target"] == "/s/[redacted]"


def test_an_open_link_shows_its_small_preview_a_protected_one_does_not() -> None:
    url = 'https://s3.example/b/previews/r/a/d/v1/small.webp?X-Amz-Signature=abc&x="><script>'
    open_link = {"name": 'cat "1".png', "size": 10, "note": None, "protected": False, "preview_url": url}
    page = download_page(open_link).body.decode()
    assert (
        '<img class="preview" src="https://s3.example/b/previews/r/a/d/v1/small.webp?X-Amz-Signature=abc&amp;' in page
    )
    assert "<script>" not in page and 'alt="cat &quot;1&quot;.png"' in page
    assert "<img" not in download_page({**open_link, "protected": True}).body.decode()
    assert "<img" not in download_page({**open_link, "preview_url": None}).body.decode()

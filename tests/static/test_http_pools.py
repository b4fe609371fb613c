"""Every HTTP pool the product sets up itself drops idle connections before uvicorn does.

uvicorn closes a connection idle for 5 s; httpx keeps one 5 s too. A request sent on a pooled
connection just as the service closes it fails unanswered (`RemoteProtocolError`, ci126), so the
kit's clients drop theirs after `KEEPALIVE_SECONDS` (4 s). A caller's own `httpx.Limits(...)`
replaces the kit's whole default, expiry included: webdav's did, and a WebDAV PUT 7 s after the
last one got a 503 "upload unavailable" in CI (ci142). A pool of its own size comes from
`docstore_kit.http_transport.default_limits(...)`; any `httpx.Limits(...)` left in the product
names `keepalive_expiry`, or keeps no idle connection at all (`max_keepalive_connections=0`)."""

from __future__ import annotations

import ast

import pytest

from .sources import ROOT, product_sources

pytestmark = pytest.mark.static


def _pools_without_expiry(source: str) -> list[int]:
    """Lines of `httpx.Limits(...)` calls that keep idle connections for httpx's default 5 s."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "httpx.Limits":
            given = {keyword.arg: keyword.value for keyword in node.keywords}
            keeps_none = isinstance(given.get("max_keepalive_connections"), ast.Constant) and (
                given["max_keepalive_connections"].value == 0
            )
            if "keepalive_expiry" not in given and not keeps_none:
                found.append(node.lineno)
    return found


def test_the_check_finds_a_pool_without_expiry() -> None:
    assert _pools_without_expiry("limits = httpx.Limits(max_connections=8, max_keepalive_connections=4)\n") == [1]
    assert _pools_without_expiry("httpx.Limits(max_connections=8, keepalive_expiry=KEEPALIVE_SECONDS)\n") == []
    assert _pools_without_expiry("httpx.Limits(max_keepalive_connections=0)\n") == []


def test_every_pool_of_the_product_drops_idle_connections_before_uvicorn() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in product_sources()
        for line in _pools_without_expiry(path.read_text())
    ]
    assert not found, "httpx.Limits without keepalive_expiry (docstore_kit.http_transport.KEEPALIVE_SECONDS):\n" + (
        "\n".join(found)
    )

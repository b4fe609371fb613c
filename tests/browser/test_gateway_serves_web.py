"""The gateway serves web/ at `/` without shadowing the API, the docs or the health routes."""

from __future__ import annotations

import pytest

from docstore_kit.http_transport import sync_client

from .conftest import WebSystem

pytestmark = [pytest.mark.e2e]


def test_web_app_and_api_side_by_side(web_system: WebSystem) -> None:
    with sync_client(base_url=web_system.gateway, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert '<script type="module" src="js/main.js">' in page.text
        script = client.get("/js/main.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert client.get("/no-such-file.js").status_code == 404

        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics")  # answered directly, not redirected to /metrics/
        assert metrics.status_code == 200 and "http_request_duration_seconds" in metrics.text
        assert "/v1/documents" in client.get("/openapi.json").json()["paths"]
        assert "swagger" in client.get("/docs").text.lower()
        assert client.get("/v1/documents").status_code == 401  # the API, not a static file
        assert client.get("/v1/no-such-route").status_code in (401, 404)

"""The gateway's TLS settings and its HSTS header: sent on every HTTPS response (API, web app,
errors), never over plain http; a certificate without its key (or a missing file) is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from docstore_gateway.main import create_app
from docstore_gateway.settings import Settings


@pytest.fixture(autouse=True)
def _no_gateway_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("GATEWAY_", "TLS_", "HSTS_")):
            monkeypatch.delenv(name)


async def _get(settings: Settings, url: str) -> httpx.Response:
    app = create_app(settings)  # no lifespan: the edge answers without MongoDB
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        return await client.get(url)


@pytest.mark.parametrize("path", ["/healthz", "/no-such-route", "/v1/%2e%2e/x"])
async def test_https_responses_carry_hsts(path: str) -> None:
    response = await _get(Settings(web_dir=""), f"https://gateway.example{path}")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_plain_http_responses_do_not() -> None:
    response = await _get(Settings(web_dir=""), "http://127.0.0.1:8080/healthz")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_hsts_can_include_subdomains_or_be_off() -> None:
    on = await _get(Settings(web_dir="", hsts_include_subdomains=True), "https://gateway.example/healthz")
    assert on.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    off = await _get(Settings(web_dir="", hsts_max_age_seconds=0), "https://gateway.example/healthz")
    assert "strict-transport-security" not in off.headers


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValidationError, match="go together"):
        Settings(tls_cert_file=str(cert))
    with pytest.raises(ValidationError, match="no file at"):
        Settings(tls_cert_file=str(cert), tls_key_file=str(tmp_path / "absent.key"))
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    assert Settings(tls_cert_file=str(cert), tls_key_file=str(key)).tls()
    assert not Settings().tls()


def test_the_shared_tls_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("cert", "key"):
        (tmp_path / name).write_text("pem")
        monkeypatch.setenv(f"TLS_{name.upper()}_FILE", str(tmp_path / name))
    settings = Settings()
    assert (settings.tls_cert_file, settings.tls_key_file) == (str(tmp_path / "cert"), str(tmp_path / "key"))

"""The e2e suite over TLS (`DOCSTORE_E2E_TLS=1`, as scripts/test runs the whole suite): the
shared system's gateways, both regions, serve HTTPS only, with a certificate from the run's local
`trustme` CA, as `scripts/up --tls` does; this run's clients trust that CA (so every other test
of the pass reaches the gateway over TLS), a client that does not is refused, and plain HTTP to
the gateway's port gets no answer. Skipped when the e2e tests run over plain http."""

from __future__ import annotations

import httpx
import pytest

from docstore_devplatform.e2e import e2e_tls_requested

from .conftest import PASSWORD, System, sign_up

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not e2e_tls_requested(), reason="DOCSTORE_E2E_TLS unset: gateways on plain http"),
]


async def test_both_gateways_serve_https_only_with_the_local_ca(
    api: httpx.AsyncClient, system: System, region_b: System
) -> None:
    assert system.ca_file and system.ca_file == region_b.ca_file
    for gateway in (system.gateway, region_b.gateway):
        assert gateway.startswith("https://127.0.0.1:"), gateway
        # The pass's default clients trust the CA (SSL_CERT_FILE), as the other tests' clients do.
        async with httpx.AsyncClient(timeout=20.0) as default:
            assert (await default.get(f"{gateway}/healthz")).status_code == 200
        # Public CAs only: the certificate is not theirs.
        async with httpx.AsyncClient(trust_env=False, timeout=20.0) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.get(f"{gateway}/healthz")
        # Plain text to the TLS port: no HTTP answer.
        async with httpx.AsyncClient(timeout=20.0) as plain:
            with pytest.raises(httpx.TransportError):
                answered = await plain.get(f"{gateway.replace('https://', 'http://')}/healthz")
                pytest.fail(f"plain http answered {answered.status_code}")

    # A session over it: the refresh cookie is __Secure-, and spent again over https.
    user = await sign_up(api)
    assert api.base_url.scheme == "https"
    login = await api.post("/v1/sessions", json={"username": user.username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    assert login.headers["set-cookie"].startswith("__Secure-docstore-refresh=")
    assert "; secure" in login.headers["set-cookie"].lower()
    refreshed = await api.post("/v1/sessions/refresh")
    assert refreshed.status_code in (200, 201), refreshed.text

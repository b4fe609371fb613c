"""The platform's OpenID provider (docstore_devplatform.oidc) on its own: it serves its discovery
document and keys, sends people to its login form, and refuses a redirect URI it was not given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docstore_devplatform import oidc
from docstore_devplatform.ports import free_ports

pytestmark = pytest.mark.integration

GATEWAY = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[oidc.OidcProvider]:
    if not oidc.installed():
        pytest.skip("oidc-provider is not installed (scripts/bootstrap)")
    started = oidc.OidcProvider(Path(tmp_path_factory.mktemp("oidc")), free_ports(1)[0], oidc.callback_urls([GATEWAY]))
    started.start()
    yield started
    started.stop()


def authorize(provider: oidc.OidcProvider, redirect_uri: str) -> httpx.Response:
    params = {
        "client_id": provider.client_id,
        "response_type": "code",
        "scope": "openid email",
        "redirect_uri": redirect_uri,
        "state": "s",
        "nonce": "n",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return httpx.get(f"{provider.issuer}/auth", params=params, timeout=10)


def test_it_serves_discovery_and_keys_and_the_services_settings(provider: oidc.OidcProvider) -> None:
    document = httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert document["issuer"] == provider.issuer
    assert "S256" in document["code_challenge_methods_supported"]
    assert httpx.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert provider.service_env()["ACCOUNTS_OIDC_ISSUER"] == provider.issuer


def test_the_gateways_callback_gets_the_login_form_and_another_redirect_uri_does_not(
    provider: oidc.OidcProvider,
) -> None:
    accepted = authorize(provider, f"{GATEWAY}{oidc.CALLBACK_PATH}")
    assert accepted.status_code == 303 and "/interaction/" in accepted.headers["location"]
    refused = authorize(provider, "http://127.0.0.1:9999/steal")
    assert refused.status_code == 400 and "redirect_uri" in refused.text

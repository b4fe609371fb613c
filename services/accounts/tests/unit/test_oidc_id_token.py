"""The ID token's checks (`adapters/oidc.py`, `Provider`), against a provider played by an httpx
mock transport that signs its tokens with a key of its JWKS: a token for another audience, another
issuer, another nonce, an expired one or one signed with a key not in the JWKS is refused, and a
good one gives the identity. (The real provider's flow is tests/e2e/test_oidc.py.)"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from docstore_accounts.adapters.oidc import Flow, Provider
from docstore_accounts.domain.oidc import OidcSignInRefused

ISSUER = "https://id.example.org"
CLIENT = "docstore"
NONCE = "the-nonce"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})


def good_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "s-1",
        "aud": CLIENT,
        "exp": now + 300,
        "iat": now,
        "nonce": NONCE,
        "email": "ann@example.org",
        "email_verified": True,
    }


def provider_answering(claims: dict[str, Any], key: RSAKey = KEY) -> Provider:
    id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})
        raise AssertionError(path)

    provider = Provider(
        ISSUER,
        CLIENT,
        "secret",
        "https://docstore.example/cb",
        httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )

    class Client:  # the token endpoint's answer (Authlib's client is the real one in the e2e test)
        async def __aenter__(self) -> Client:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def fetch_token(self, url: str, **kwargs: Any) -> dict[str, Any]:
            assert kwargs["code_verifier"] == "verifier"
            return {"access_token": "at", "token_type": "Bearer", "id_token": id_token}

    provider._client = Client  # type: ignore[method-assign,assignment]
    return provider


async def identity_of(claims: dict[str, Any], key: RSAKey = KEY) -> Any:
    return await provider_answering(claims, key).identity(Flow("state", NONCE, "verifier"), "code")


async def test_a_good_token_gives_the_identity() -> None:
    identity = await identity_of(good_claims())
    assert (identity.issuer, identity.subject, identity.email, identity.email_verified) == (
        ISSUER,
        "s-1",
        "ann@example.org",
        True,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "another-app"},
        {"aud": ["another-app", CLIENT]},  # several audiences and no azp naming us
        {"iss": "https://evil.example"},
        {"nonce": "another-nonce"},
        {"nonce": None},
        {"exp": int(time.time()) - 3600},
        {"sub": None},
    ],
    ids=["audience", "audiences", "issuer", "nonce", "no-nonce", "expired", "no-subject"],
)
async def test_a_token_failing_a_check_is_refused(change: dict[str, Any]) -> None:
    claims = {k: v for k, v in (good_claims() | change).items() if v is not None}
    with pytest.raises(OidcSignInRefused):
        await identity_of(claims)


async def test_a_token_signed_with_a_key_not_in_the_jwks_is_refused() -> None:
    with pytest.raises(OidcSignInRefused):
        await identity_of(good_claims(), OTHER_KEY)

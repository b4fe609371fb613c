"""The platform in TLS mode (`scripts/up --tls`), started by the very supervisor `up` runs:
a local CA from trustme, the gateway on HTTPS (its own TLS settings), S3, MongoDB, Typesense and
moto on TLS with the same certificate. The key flows run over HTTPS with the CA trusted: sign-up,
login (the refresh cookie `__Secure-`, Secure, and spent over https), an upload through the signed
form straight to S3 over TLS, download, share, full-text search; and a client that does not trust
the CA, or speaks plain text to a TLS port, is refused.

One region only (the second region adds nothing TLS-specific and six more processes on a
2-core CI machine); `up --tls` itself starts both. The platform is the fault tests' (conftest.py):
these tests run after theirs, so the flows also prove that TLS holds on the servers the supervisor
restarted after each kill.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pymongo
import pytest
from pymongo.errors import PyMongoError

from docstore_devplatform.testing import eventually

from .conftest import PASSWORD, Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class TlsPlatform:
    gateway: str
    ca_file: str
    endpoints: dict[str, str]


@pytest.fixture(scope="module")
def tls_platform(platform: Platform) -> TlsPlatform:
    """The fault tests' platform (conftest.py: `supervise --tls`), as these tests read it."""
    state = platform.state()
    return TlsPlatform(gateway=state["services"]["gateway"], ca_file=platform.ca_file, endpoints=state["endpoints"])


async def _sign_up(api: httpx.AsyncClient, plan: str = "free") -> tuple[str, dict[str, str], httpx.Response]:
    username = f"tls-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD, "plan": plan}
    created = await api.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    login = await api.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return username, {"Authorization": f"Bearer {login.json()['token']}"}, login


async def _verify_by_mail(api: httpx.AsyncClient, tls_platform: TlsPlatform, address: str) -> None:
    """Follow the sign-up's verification mail, read from moto over TLS (metadata -> notify -> SES)."""
    trusting = ssl.create_default_context(cafile=tls_platform.ca_file)

    async def link() -> str | None:
        async with httpx.AsyncClient(verify=trusting, timeout=10) as client:
            data = (await client.get(f"{tls_platform.endpoints['aws_endpoint']}/moto-api/data.json")).json()
        for raw in data.get("ses", {}).get("RawMessage", []):
            if address not in raw["destinations"]:
                continue
            message = email.message_from_string(raw["raw_data"], policy=email.policy.default)
            text = next(p.get_content() for p in message.walk() if p.get_content_type() == "text/plain")
            found = re.search(r"token=([A-Za-z0-9_-]+)", text)
            if found:
                return found.group(1)
        return None

    token = await eventually(link, timeout=120)
    verified = await api.post("/v1/account/email/verify", json={"token": token})
    assert verified.status_code == 200, verified.text


def test_the_platform_serves_tls_with_the_local_ca(tls_platform: TlsPlatform) -> None:
    ca = Path(tls_platform.ca_file)
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert tls_platform.gateway.startswith("https://127.0.0.1:")
    ep = tls_platform.endpoints
    assert ep["s3_endpoint"].startswith("https://") and ep["typesense_url"].startswith("https://")
    assert ep["aws_endpoint"].startswith("https://") and "tls=true" in ep["mongo_url"]
    # notify reached SES (moto) over TLS with AWS_CA_BUNDLE: it verified its sender at start.
    sent = httpx.get(f"{ep['aws_endpoint']}/moto-api/data.json", verify=ssl.create_default_context(cafile=str(ca)))
    identities = [i["email_identity"] for i in sent.json()["ses"]["EmailIdentity"]]
    assert identities, "notify's SES client never reached moto over TLS"


async def test_key_flows_over_https(api: httpx.AsyncClient, tls_platform: TlsPlatform) -> None:
    owner, owner_auth, login = await _sign_up(api, plan="premium")
    await _verify_by_mail(api, tls_platform, f"{owner}@example.com")  # sharing needs it (issue 20)
    # The refresh cookie: __Secure- prefixed, Secure and HttpOnly, and a client that trusts the CA
    # sends it back over https (a Secure cookie never goes out over plain http).
    cookie = login.headers["set-cookie"]
    assert cookie.startswith("__Secure-docstore-refresh=")
    assert "; secure" in cookie.lower() and "; httponly" in cookie.lower()
    assert login.headers["strict-transport-security"].startswith("max-age=")
    refreshed = await api.post("/v1/sessions/refresh")
    assert refreshed.status_code in (200, 201), refreshed.text
    owner_auth = {"Authorization": f"Bearer {refreshed.json()['token']}"}

    # Upload: the signed form points at S3 over TLS, and the bytes go there, not through us.
    data = b"Encrypted in transit: the secret word is quokkaesque.\n"
    grant = await api.post(
        "/v1/uploads", headers=owner_auth, json={"filename": "tls.txt", "size": len(data), "content_type": "text/plain"}
    )
    assert grant.status_code == 201, grant.text
    form = grant.json()["form"]
    assert form["url"].startswith(tls_platform.endpoints["s3_endpoint"] + "/")
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=tls_platform.ca_file), timeout=40.0) as s3:
        posted = await s3.post(form["url"], data=form["fields"], files={"file": ("tls.txt", data, "text/plain")})
        assert posted.status_code == 201, posted.text
        done = await api.post(f"/v1/uploads/{grant.json()['upload_id']}/complete", headers=owner_auth)
        assert done.status_code == 200, done.text
        document_id = done.json()["document_id"]

        async def listed() -> bool:  # metadata learnt it through Kafka and stored it in MongoDB over TLS
            items = (await api.get("/v1/documents", headers=owner_auth)).json()["items"]
            return any(d["document_id"] == document_id for d in items)

        await eventually(listed, timeout=60)

        # Download: a signed https URL, read with the CA trusted.
        link = await api.get(f"/v1/documents/{document_id}/download", headers=owner_auth)
        assert link.status_code == 200, link.text
        assert link.json()["url"].startswith("https://")
        assert (await s3.get(link.json()["url"])).content == data

    # Share with a second account, who then sees and downloads it.
    viewer, viewer_auth, _ = await _sign_up(api)
    shared = await api.post(
        f"/v1/documents/{document_id}/shares", headers=owner_auth, json={"username": viewer, "permission": "view"}
    )
    assert shared.status_code == 201, shared.text
    assert [d["document_id"] for d in (await api.get("/v1/shared", headers=viewer_auth)).json()["items"]] == [
        document_id
    ]
    assert (await api.get(f"/v1/documents/{document_id}/download", headers=viewer_auth)).status_code == 200

    # Full-text search: the indexer reached S3 (AWS_CA_BUNDLE) and Typesense (SSL_CERT_FILE) over TLS.
    async def found() -> list[str]:
        response = await api.get("/v1/search", params={"q": "quokkaesque"}, headers=owner_auth)
        return [hit["document_id"] for hit in response.json()["items"]] if response.status_code == 200 else []

    assert await eventually(found, timeout=90) == [document_id]


async def test_a_client_that_does_not_trust_the_ca_is_refused(tls_platform: TlsPlatform) -> None:
    # certifi's public CAs only (trust_env=False: no SSL_CERT_FILE from the environment).
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as untrusting:
        for url in (f"{tls_platform.gateway}/healthz", f"{tls_platform.endpoints['s3_endpoint']}/"):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.get(url)


async def test_plain_text_to_the_tls_ports_gets_nothing(tls_platform: TlsPlatform) -> None:
    plain_gateway = tls_platform.gateway.replace("https://", "http://")
    async with httpx.AsyncClient(timeout=10.0) as plain:
        with pytest.raises(httpx.TransportError):
            response = await plain.get(f"{plain_gateway}/healthz")
            pytest.fail(f"plain http answered {response.status_code}")
    # MongoDB without TLS: the server wraps every connection in TLS first, so no handshake succeeds.
    plain_mongo = tls_platform.endpoints["mongo_url"].split("&tls=")[0]

    def ping() -> None:
        with pymongo.MongoClient(plain_mongo, serverSelectionTimeoutMS=1500, connectTimeoutMS=1500) as client:
            client.admin.command("ping")

    with pytest.raises(PyMongoError):
        await asyncio.to_thread(ping)

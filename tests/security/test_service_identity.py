"""Each service's own port, reached without the gateway (issue 13, item 6): bare `X-Account-Id` /
`X-Account-Role` headers prove nothing, and a forged, expired, misdirected or unsigned identity
token is refused. Table-driven from every service's own `/openapi.json`, so a new route is
covered the day it is added."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from docstore_devplatform.e2e import PASSWORD

from .conftest import Victim, make_victim
from .support import (
    IDENTITY_HEADER,
    Operation,
    bad_identity_tokens,
    bare_identity,
    fill_path,
    identity,
    operations,
    request_body,
    required_query,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ("accounts", "metadata", "upload", "quota", "indexer", "notify", "links")

# Routes a service answers without any identity, each with the reason.
PUBLIC = {
    ("accounts", "POST /accounts"): "sign-up: anyone may create an account",
    ("accounts", "POST /account/email/verify"): "a mailed verification link: the single-use token is the right",
    ("accounts", "POST /account/password-reset"): "a forgotten password: anyone may ask (the same answer for all)",
    ("accounts", "POST /account/password-reset/confirm"): "a mailed reset link: the single-use token is the right",
    ("accounts", "POST /internal/password-reset"): "peer regions' accounts only: X-Replication-Secret, as replicas",
    ("accounts", "POST /internal/people/by-email/here"): "peer regions' accounts only: X-Replication-Secret, as "
    "replicas",
    ("notify", "GET /notifications/unsubscribe/{token}"): "a mail's unsubscribe link: the signed token is the right",
    (
        "notify",
        "POST /notifications/unsubscribe/{token}",
    ): "RFC 8058 one-click unsubscribe: the signed token is the right",
    (
        "upload",
        "GET /uploads/{upload_id}/done/{signature}",
    ): "where S3 sends a browser after a form upload: signed link",
    ("accounts", "GET /healthz"): "liveness probe",
    ("accounts", "GET /readyz"): "readiness probe",
    ("metadata", "GET /healthz"): "liveness probe",
    ("metadata", "GET /readyz"): "readiness probe",
    ("upload", "GET /healthz"): "liveness probe",
    ("upload", "GET /readyz"): "readiness probe",
    ("quota", "GET /healthz"): "liveness probe",
    ("quota", "GET /readyz"): "readiness probe",
    ("indexer", "GET /healthz"): "liveness probe",
    ("indexer", "GET /readyz"): "readiness probe",
    ("notify", "GET /healthz"): "liveness probe",
    ("notify", "GET /readyz"): "readiness probe",
    ("links", "GET /healthz"): "liveness probe",
    ("links", "GET /readyz"): "readiness probe",
}

# One route per service that a valid identity token opens: proves the refusals below are the
# token's doing, not a broken route.
CONTROL = {
    "accounts": "/account",
    "metadata": "/documents",
    "upload": "/uploads/{pending}",
    "quota": "/usage",
    "indexer": "/search/status",
    "notify": "/notifications/preferences",
    "links": "/links",
}


@pytest_asyncio.fixture(scope="module")
async def victim(system) -> Victim:
    """A victim of this module's own: on a service that still trusts bare headers, the calls
    below really delete, abort and change things, which must not spoil other modules' victims."""
    return await make_victim(system.gateway)


def path_values(victim: Victim) -> dict[str, str]:
    return {
        "account_id": victim.owner.account_id,
        "document_id": victim.document_id,
        "version": "1",
        "grantee_id": victim.grantee.account_id,
        "upload_id": victim.pending_upload_id,
        "token": "x" * 43,
        "signature": "x" * 43,
        "topic": "docstore.upload.completed.dlq",
        "partition": "0",
        "offset": "0",
        "sha256": "0" * 64,  # metadata's dedupe lookup (internal)
        "link_id": victim.link_id or "no-such-link",  # public share links
        "kind": "password-changed",  # notify's account mails (internal)
        "folder_id": victim.folder_id,
        "app_password_id": victim.app_password_id,
        "identity_id": "0" * 64,  # a linked OpenID identity (accounts)
        "webhook_id": "wh_" + "0" * 32,
        "delivery_id": "msg_" + "0" * 32,
        "table": "most-downloaded",  # analytics' admin tables
        "username": victim.owner.username,  # accounts' lookup by name (internal)
    }


def body_values(victim: Victim) -> dict[str, object]:
    return {
        "document_id": victim.document_id,
        "username": victim.owner.username,
        "password": PASSWORD,
        "filename": "f.txt",
        "size": 1,
        "content_type": "text/plain",
        "sha256": "0" * 64,
        "path": "/",
        "home_region": "us-west-2",
        "plan": "premium",
        "status": "active",
        "version": 99,
        "q": "*",
    }


async def service_routes(client: httpx.AsyncClient, service: str) -> tuple[dict, list[Operation]]:
    spec = (await client.get("/openapi.json")).json()
    routes = [op for op in operations(spec) if (service, op.key) not in PUBLIC]
    assert routes, f"{service} publishes no routes in /openapi.json"
    return spec, routes


async def call(
    client: httpx.AsyncClient, spec: dict, op: Operation, victim: Victim, headers: dict[str, str]
) -> httpx.Response:
    values = body_values(victim)
    if op.path == "/internal/app-passwords/verify":
        values["password"] = victim.app_password  # the gateway's check of an app password, not the login's
    body = request_body(spec, op, values)
    return await client.request(
        op.method,
        fill_path(op.path, path_values(victim)),
        headers=headers,
        params=required_query(spec, op, body_values(victim)),
        json=body if body is not None else None,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_bare_identity_headers_are_unauthenticated_on_every_route(system, victim: Victim, service: str) -> None:
    failures = []
    async with httpx.AsyncClient(base_url=system.urls[service], timeout=40.0) as client:
        spec, routes = await service_routes(client, service)
        for op in routes:
            answer = await call(client, spec, op, victim, bare_identity(victim.owner.account_id))
            if answer.status_code != 401:
                failures.append(f"{op.key} -> {answer.status_code} {answer.text[:120]}")
            elif victim.name in answer.text or victim.owner.email in answer.text:
                failures.append(f"{op.key} -> 401 carrying the victim's data")
    assert not failures, f"{service} trusted bare X-Account-Id/X-Account-Role:\n" + "\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_forged_expired_and_misdirected_tokens_are_401(system, victim: Victim, service: str) -> None:
    failures = []
    async with httpx.AsyncClient(base_url=system.urls[service], timeout=40.0) as client:
        control = CONTROL[service].replace("{pending}", victim.pending_upload_id)
        good = await client.get(control, headers=identity(service, victim.owner.account_id))
        # Authenticated: 200, or the indexer's 403 for a Free account (a plan rule, not the token).
        assert good.status_code in (200, 403) and "authentication" not in good.text, (
            f"a valid token was refused on {service} {control}: {good.status_code} {good.text}"
        )

        spec, routes = await service_routes(client, service)
        wrong_service = "quota" if service != "quota" else "metadata"
        tokens = bad_identity_tokens(service, victim.owner.account_id)
        # A real token, signed with the real key, but minted for another service: replaying what
        # the gateway sent to one service against another must not work.
        tokens["minted for another service"] = identity(wrong_service, victim.owner.account_id, "admin")[
            IDENTITY_HEADER
        ]
        for name, token in tokens.items():
            for op in routes:
                answer = await call(client, spec, op, victim, {IDENTITY_HEADER: token})
                if answer.status_code != 401:
                    failures.append(f"{name}: {op.key} -> {answer.status_code} {answer.text[:120]}")
    assert not failures, f"{service} accepted bad identity tokens:\n" + "\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_internal_routes_serve_services_only(system, victim: Victim, service: str) -> None:
    """A person's token, however valid, never opens an /internal route (403); a service's does."""
    async with httpx.AsyncClient(base_url=system.urls[service], timeout=40.0) as client:
        spec, routes = await service_routes(client, service)
        internal = [op for op in routes if op.path.startswith("/internal/") and "replicas" not in op.path]
        if not internal:
            pytest.skip(f"{service} has no /internal route")
        for op in internal:
            for role in ("user", "admin"):
                answer = await call(client, spec, op, victim, identity(service, victim.owner.account_id, role))
                assert answer.status_code == 403, f"{role} token: {op.key} -> {answer.status_code} {answer.text[:200]}"
            answer = await call(client, spec, op, victim, identity(service, "upload", "service"))
            assert answer.status_code not in (401, 403) and answer.status_code < 500, (
                f"service token: {op.key} -> {answer.status_code} {answer.text[:200]}"
            )

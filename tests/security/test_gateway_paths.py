"""Path tricks through the gateway (issue 13, item 1, critical): a path the gateway forwards
must be exactly a public route. Dot segments (plain or percent-encoded, any case), backslashes,
encoded slashes, control characters and double slashes are refused with 400 before anything
is forwarded; unknown paths are 404; no /internal route of any service is reachable.

Every request goes out byte for byte (`raw_request`): httpx would normalise `..` away."""

from __future__ import annotations

import json
import uuid

import pytest

from docstore_devplatform.e2e import PASSWORD, User
from docstore_devplatform.testing import eventually

from .conftest import Victim, new_user
from .support import raw_request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICES = ("metadata", "links", "upload", "quota", "indexer", "notify")


def traversals(victim: Victim) -> list[tuple[str, str]]:
    """(method, raw path) pairs that each try to reach something internal or to smuggle a path."""
    a, doc = victim.owner.account_id, victim.document_id
    internal_doc = f"internal/accounts/{a}/documents/{doc}"
    cases = [
        # The report's exact request, then every spelling of a dot segment.
        ("GET", f"/v1/documents/%2e%2e/{internal_doc}"),
        ("GET", f"/v1/documents/%2E%2E/{internal_doc}"),
        ("GET", f"/v1/documents/%2e%2E/{internal_doc}"),
        ("GET", f"/v1/documents/../{internal_doc}"),
        ("GET", f"/v1/documents/.%2e/{internal_doc}"),
        ("GET", f"/v1/documents/%2e./{internal_doc}"),
        ("GET", f"/v1/documents/x/%2e%2e/%2e%2e/{internal_doc}"),
        ("GET", f"/v1/%2e%2e/{internal_doc}"),
        ("GET", f"/v1/documents/{doc}/%2e%2e"),
        ("GET", f"/v1/documents/{doc}/.."),
        ("GET", f"/v1/./documents/{doc}"),
        ("GET", f"/v1/documents/%2e/{doc}"),
        ("GET", f"/v1/documents/%2E/{doc}"),
        # Encoded slashes and backslashes (plain and %5c in both cases).
        ("GET", f"/v1/documents/%2e%2e%2f{internal_doc}"),
        ("GET", f"/v1/documents/..%2F{internal_doc.replace('/', '%2F')}"),
        ("GET", f"/v1/documents/{doc}%2fversions"),
        ("GET", f"/v1/documents/..\\{internal_doc.replace('/', chr(92))}"),
        ("GET", f"/v1/documents/..%5c{internal_doc}"),
        ("GET", f"/v1/documents/..%5C{internal_doc}"),
        ("GET", f"/v1/documents/{doc}\\versions"),
        # Double slashes.
        ("GET", f"/v1//documents/{doc}"),
        ("GET", f"/v1/documents//{doc}"),
        ("GET", f"/v1/documents/{doc}//versions"),
        # Control characters (percent-encoded: raw ones cannot even be put in a request line).
        ("GET", f"/v1/documents/{doc}%00"),
        ("GET", f"/v1/documents/%00{doc}"),
        ("GET", f"/v1/documents/{doc}%0a"),
        ("GET", f"/v1/documents/{doc}%0d%0aX-Injected:%20yes"),
        ("GET", f"/v1/documents/{doc}%09"),
        ("GET", f"/v1/documents/{doc}%1f"),
        ("GET", f"/v1/documents/{doc}%7f"),
        # The other internal routes the report reached the same way.
        ("GET", f"/v1/usage/%2e%2e/internal/accounts/{a}/room"),
        ("GET", f"/v1/uploads/%2e%2e/internal/accounts/{a}/room"),
        ("POST", "/v1/accounts/%2e%2e/internal/credentials/verify"),
        ("POST", "/v1/documents/%2e%2e/internal/credentials/verify"),
        ("POST", "/v1/notifications/%2e%2e/internal/digests/run"),
        ("PUT", f"/v1/documents/%2e%2e/internal/replicas/{a}"),
        ("GET", "/v1/documents/%2e%2e/openapi.json"),
        ("GET", "/v1/notifications/%2e%2e/openapi.json"),
        ("GET", "/v1/documents/%2e%2e/metrics"),
    ]
    return cases


def credentials_body(victim: Victim) -> bytes:
    return json.dumps({"username": victim.owner.username, "password": PASSWORD}).encode()


def assert_no_leak(answer, victim: Victim, what: str) -> None:
    for secret in (victim.name, victim.owner.email, victim.sha256, '"paths"', '"openapi"'):
        assert secret not in answer.text, f"{what}: the answer carries {secret!r}: {answer.text[:300]}"


async def test_every_path_trick_is_refused_with_400_and_never_forwarded(system, victim_a: Victim) -> None:
    attacker = await new_user(system.gateway)
    marker = uuid.uuid4().hex
    headers = attacker.auth | {"Content-Type": "application/json"}
    failures = []
    for method, path in traversals(victim_a):
        probe = f"{path}?probe={marker}"
        body = credentials_body(victim_a) if method in ("POST", "PUT") else None
        for auth in (headers, {"Content-Type": "application/json"}):  # with a session and without one
            answer = await raw_request(system.gateway, method, probe, auth, body)
            if answer.status != 400:
                failures.append(
                    f"{method} {path} ({'session' if 'Authorization' in auth else 'anonymous'}) "
                    f"-> {answer.status} {answer.text[:160]}"
                )
            assert_no_leak(answer, victim_a, f"{method} {path}")
            assert "x-injected" not in answer.headers
    assert not failures, "path tricks not refused with 400:\n" + "\n".join(failures)

    # Nothing reached a service: each logs the requests it answers (the control proves the log
    # is written and flushed), and none logged the probe.
    control = uuid.uuid4().hex
    await raw_request(system.gateway, "GET", f"/v1/documents?control={control}", attacker.auth)

    def logs() -> dict[str, str]:
        return {name: (system.logs / f"{name}.log").read_text(errors="replace") for name in SERVICES}

    async def control_logged():
        return control in logs()["metadata"]

    try:
        await eventually(control_logged, timeout=10)
    except AssertionError:
        pytest.skip("metadata logs no request lines: the 400s above are the proof that nothing was forwarded")
    forwarded = [name for name, text in logs().items() if marker in text]
    assert not forwarded, f"path tricks reached {forwarded}"


async def test_double_encoding_is_never_decoded_into_an_internal_route(system, victim_a: Victim) -> None:
    attacker = await new_user(system.gateway)
    a, doc = victim_a.owner.account_id, victim_a.document_id
    for path in (
        f"/v1/documents/%252e%252e/internal/accounts/{a}/documents/{doc}",
        f"/v1/documents/%25252e%25252e/internal/accounts/{a}/documents/{doc}",
        f"/v1/documents/..%252f..%252finternal%252faccounts%252f{a}%252fdocuments%252f{doc}",
    ):
        answer = await raw_request(system.gateway, "GET", path, attacker.auth)
        assert answer.status in (400, 404), f"{path} -> {answer.status} {answer.text[:200]}"
        assert_no_leak(answer, victim_a, path)


async def test_the_password_oracle_is_gone(system, victim_a: Victim) -> None:
    """The internal credentials check answered 200 with the account for a right password and
    401 for a wrong one, without the login's session bookkeeping: a free password oracle."""
    attacker = await new_user(system.gateway)
    for password, session in ((PASSWORD, {}), ("wrong password!", {}), (PASSWORD, attacker.auth)):
        body = json.dumps({"username": victim_a.owner.username, "password": password}).encode()
        for path in (
            "/v1/accounts/%2e%2e/internal/credentials/verify",
            "/v1/internal/credentials/verify",
            "/internal/credentials/verify",
            "/v1/accounts/../internal/credentials/verify",
        ):
            answer = await raw_request(
                system.gateway, "POST", path, session | {"Content-Type": "application/json"}, body
            )
            assert answer.status in (400, 404, 405), f"{path} -> {answer.status} {answer.text[:200]}"
            assert victim_a.owner.account_id not in answer.text


async def test_unknown_and_internal_paths_are_404(system, victim_a: Victim) -> None:
    user: User = await new_user(system.gateway)
    a, doc = victim_a.owner.account_id, victim_a.document_id
    for path in (
        "/v1/nothing-here",
        "/v1/nothing-here/deeper",
        f"/v1/internal/accounts/{a}/documents/{doc}",
        f"/v1/internal/accounts/{a}/room",
        "/v1/internal/digests/run",
        f"/internal/accounts/{a}/documents/{doc}",
        f"/internal/accounts/{a}/room",
    ):
        for method in ("GET", "POST"):
            answer = await raw_request(system.gateway, method, path, user.auth, b"{}" if method == "POST" else None)
            assert answer.status in (404, 405), f"{method} {path} -> {answer.status} {answer.text[:200]}"
            assert_no_leak(answer, victim_a, path)

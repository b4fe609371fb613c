"""The route table and the path checks: only listed public routes, reached by clean paths."""

from __future__ import annotations

import importlib
from urllib.parse import unquote

import pytest

from docstore_gateway.domain import routing
from docstore_gateway.domain.routing import (
    ROUTE_TABLE,
    BadPath,
    MethodNotAllowed,
    PublicRoute,
    checked_segments,
    resolve,
    route_for,
)

DOC = "0b7e3c1e-5b1a-4c55-9a0e-2f0f3f7d1a11"

MESSAGES = {
    routing.DOT_SEGMENT,
    routing.BACKSLASH,
    routing.ENCODED_SLASH,
    routing.CONTROL,
    routing.DOUBLE_SLASH,
    routing.ENCODING,
    routing.NOT_ABSOLUTE,
}

HOSTILE = [
    # dot segments, plain and encoded, any case, anywhere
    "/v1/documents/../internal/accounts/a/documents/d",
    "/v1/documents/%2e%2e/internal/accounts/a/documents/d",
    "/v1/documents/%2E%2E/internal/accounts/a/documents/d",
    "/v1/documents/%2e%2E/x",
    "/v1/documents/.%2e/x",
    "/v1/documents/%2e./x",
    "/v1/%2e%2e/internal/credentials/verify",
    f"/v1/documents/{DOC}/..",
    f"/v1/documents/{DOC}/%2e%2e",
    "/v1/./documents",
    "/v1/documents/%2e/x",
    "/v1/documents/%2E/x",
    "/./index.html",
    "/..",
    # backslashes and encoded slashes
    "/v1/documents/..\\internal",
    "/v1/documents/..%5cinternal",
    "/v1/documents/..%5Cinternal",
    f"/v1/documents/{DOC}%2fversions",
    f"/v1/documents/{DOC}%2Fversions",
    "/v1/documents/%2e%2e%2finternal",
    # double slashes
    "//v1/documents",
    "/v1//documents",
    "/v1/documents//x",
    f"/v1/documents/{DOC}//versions",
    # control characters: C0 (NUL included), DEL, C1, percent-encoded
    "/v1/documents/%00",
    "/v1/documents/x%00y",
    "/v1/documents/%0B",
    "/v1/documents/%0d%0aX-Injected:%20yes",
    "/v1/notifications/unsubscribe/X%1C",
    "/v1/documents/%09",
    "/v1/documents/%7f",
    "/v1/documents/%c2%85",
    "/v1/documents/%C2%9F",
    # malformed encodings
    "/v1/documents/%zz",
    "/v1/documents/%",
    "/v1/documents/%ff",
    "/v1/documents/%c0%ae%c0%ae",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_paths_are_refused(raw: str) -> None:
    with pytest.raises(BadPath) as refused:
        checked_segments(raw.encode(), unquote(raw))
    # One of a few fixed messages: nothing of the path is repeated back.
    assert str(refused.value) in MESSAGES


def test_raw_control_bytes_and_non_ascii_in_the_request_target_are_refused() -> None:
    for raw in (b"/v1/documents/a\x00b", b"/v1/documents/a\x7fb", b"/v1/documents/a b", "/v1/d/é".encode()):
        with pytest.raises(BadPath):
            checked_segments(raw, raw.decode("utf-8", "replace"))


def test_the_decoded_path_is_checked_too() -> None:
    # A raw path that looks clean but a server (or proxy) decoded into a trick.
    with pytest.raises(BadPath):
        checked_segments(b"/v1/documents/x", "/v1/documents/../internal")
    with pytest.raises(BadPath):
        checked_segments(b"/v1/documents/x", "/v1/documents/a\x00")


def test_a_query_string_in_raw_path_is_not_part_of_the_path() -> None:
    assert checked_segments(b"/v1/documents?x=%2e%2e/..//", "/v1/documents") == ["v1", "documents"]


GOOD = [
    ("POST", "/v1/accounts", "accounts", "accounts", True),
    ("GET", "/v1/documents", "metadata", "documents", False),
    ("GET", "/v1/documents/search", "metadata", "documents/search", False),
    ("GET", f"/v1/documents/{DOC}", "metadata", f"documents/{DOC}", False),
    ("POST", f"/v1/documents/{DOC}/versions/3/restore", "metadata", f"documents/{DOC}/versions/3/restore", False),
    ("DELETE", f"/v1/documents/{DOC}/shares/{DOC}", "metadata", f"documents/{DOC}/shares/{DOC}", False),
    ("GET", "/v1/uploads/u-1/done/0a1b2c", "upload", "uploads/u-1/done/0a1b2c", True),
    ("GET", "/v1/usage", "quota", "usage", False),
    (
        "POST",
        "/v1/admin/dlq/docstore.upload.completed.dlq/0/42/replay",
        "quota",
        "admin/dlq/docstore.upload.completed.dlq/0/42/replay",
        False,
    ),
    ("GET", "/v1/search", "indexer", "search", False),
    ("GET", "/v1/notifications/unsubscribe/abc_DEF-123", "notify", "notifications/unsubscribe/abc_DEF-123", True),
    ("POST", "/v1/notifications/unsubscribe/abc_DEF-123", "notify", "notifications/unsubscribe/abc_DEF-123", True),
    ("GET", "/v1/analytics/usage", "analytics", "analytics/usage", False),
    ("GET", "/v1/admin/analytics/export/most-shared", "analytics", "admin/analytics/export/most-shared", False),
    # an unreserved character spelt encoded reaches the same route, re-spelt by the gateway
    ("GET", "/v1/documents/abc%2Dd", "metadata", "documents/abc-d", False),
]


@pytest.mark.parametrize(("method", "raw", "service", "canonical", "public"), GOOD)
def test_good_paths_go_to_their_owner_under_a_canonical_path(
    method: str, raw: str, service: str, canonical: str, public: bool
) -> None:
    segments = checked_segments(raw.encode(), unquote(raw))
    found = resolve(method, segments[1:])
    assert found is not None
    assert (found.route.service, found.path, found.route.public) == (service, canonical, public)


def test_literal_segments_win_over_parameters() -> None:
    found = resolve("GET", ["documents", "search"])
    assert found is not None and found.route.template == "/documents/search"


@pytest.mark.parametrize(
    "segments",
    [
        ["internal", "credentials", "verify"],
        ["internal", "accounts", "a", "room"],
        ["internal", "digests", "run"],
        ["documents", DOC, "nothing"],
        ["nothing-here"],
        ["openapi.json"],
        ["healthz"],
        ["metrics"],
        [""],
        ["documents", ""],
        ["documents", "a b"],
        ["documents", "x" * 201],
        ["documents", DOC, "versions", "one", "restore"],
        ["uploads", "u", "done", "sig", "extra"],
        ["admin"],
        ["sessions-x"],
    ],
)
def test_paths_outside_the_table_match_nothing(segments: list[str]) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert resolve(method, segments) is None


def test_a_listed_path_with_another_method_is_405_with_the_allowed_methods() -> None:
    with pytest.raises(MethodNotAllowed) as wrong:
        resolve("POST", ["usage"])
    assert wrong.value.allowed == ("GET",)
    with pytest.raises(MethodNotAllowed) as wrong:
        resolve("GET", ["accounts"])
    assert wrong.value.allowed == ("POST",)


def test_public_and_admin_flags() -> None:
    public = {(r.method, r.template) for r in ROUTE_TABLE if r.public}
    assert public == {
        ("POST", "/accounts"),
        ("POST", "/account/email/verify"),
        ("POST", "/account/password-reset"),
        ("POST", "/account/password-reset/confirm"),
        ("GET", "/uploads/{upload_id}/done/{signature}"),
        ("GET", "/notifications/unsubscribe/{token}"),
        ("POST", "/notifications/unsubscribe/{token}"),
    }
    admin = {r.template for r in ROUTE_TABLE if r.admin}
    assert admin and all(template.startswith("/admin/") for template in admin)
    assert all(r.admin for r in ROUTE_TABLE if r.template.startswith("/admin/"))


def test_the_table_refuses_internal_routes_and_untyped_parameters() -> None:
    with pytest.raises(ValueError):
        PublicRoute("GET", "/internal/accounts/{account_id}/room", "quota")
    with pytest.raises(ValueError):
        PublicRoute("GET", "/documents/{mystery}", "metadata")


SERVICES = ("metadata", "upload", "quota", "indexer", "notify", "analytics")
OPERATIONS = frozenset({"get", "post", "put", "patch", "delete"})
HEALTH = frozenset({"/healthz", "/readyz", "/metrics"})


def _service_operations(service: str) -> set[tuple[str, str]]:
    main = importlib.import_module(f"docstore_{service}.main")
    settings = importlib.import_module(f"docstore_{service}.settings")
    spec = main.create_app(settings.Settings()).openapi()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops if method in OPERATIONS}


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_lists_exactly_the_public_routes_of_each_service(service: str) -> None:
    operations = _service_operations(service)
    internal = {(m, p) for m, p in operations if p.startswith("/internal/") or p == "/internal"}
    public = operations - internal - {(m, p) for m, p in operations if p in HEALTH}
    listed = {(r.method, r.template) for r in ROUTE_TABLE if r.service == service}
    assert public - listed == set(), f"{service} serves routes the gateway's table does not list"
    assert listed - public == set(), f"the gateway's table lists routes {service} does not serve"
    assert not any(route_for(m, p) for m, p in internal), f"an internal route of {service} is in the table"
    assert not any(r.parts[0] == "internal" for r in ROUTE_TABLE)

"""One pagination style on every list, checked on each service's own OpenAPI document (built
offline: `create_app` connects to nothing until its lifespan runs).

A list is a GET whose answer holds a list of things. Every one must answer the shared page
(`docstore_kit.pagination.Page`: `items`, `next_cursor`, `next`) and take `cursor` and `limit`;
no bare arrays, no `page`/`per_page`. A route added tomorrow is checked the day it ships."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

pytestmark = pytest.mark.static

# Not analytics: its admin tables (`GET /admin/analytics/top/{table}`) answer the first `limit` rows
# of a ranking with no cursor. Quota's top accounts are a Page; making analytics' one too is left open.
SERVICES = ("gateway", "metadata", "upload", "quota", "indexer", "notify", "accounts", "webdav", "links")
PAGE_FIELDS = {"items", "next_cursor", "next"}


def _spec(service: str) -> dict[str, Any]:
    main = importlib.import_module(f"docstore_{service}.main")
    settings = importlib.import_module(f"docstore_{service}.settings")
    return main.create_app(settings.Settings()).openapi()


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _gets(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(path, operation, 200 JSON schema) of every GET answering JSON."""
    for path, operations in spec.get("paths", {}).items():
        operation = operations.get("get")
        if operation is None:
            continue
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        if "application/json" in content:
            yield path, operation, _resolve(spec, content["application/json"].get("schema", {}))


@pytest.mark.parametrize("service", SERVICES)
def test_every_list_answers_the_shared_page_and_takes_cursor_and_limit(service: str) -> None:
    spec = _spec(service)
    problems = []
    for path, operation, schema in _gets(spec):
        parameters = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        properties = schema.get("properties", {})
        lists = [name for name, field in properties.items() if _resolve(spec, field).get("type") == "array"]
        if schema.get("type") == "array":
            problems.append(f"GET {path}: a bare array; answer a Page (docstore_kit.pagination)")
        if parameters & {"page", "per_page", "offset"}:
            problems.append(f"GET {path}: page/per_page/offset parameters; take cursor and limit")
        if "cursor" in parameters or "items" in properties:
            missing = PAGE_FIELDS - set(properties)
            if missing or not {"cursor", "limit"} <= parameters:
                problems.append(f"GET {path}: a list without the page fields {sorted(missing)} or cursor/limit")
        elif lists and "limit" in parameters:
            problems.append(f"GET {path}: a limited list in {lists} without a cursor; answer a Page")
    assert not problems, "\n".join(problems)


def test_the_check_sees_the_lists() -> None:
    """Guards the test above against passing on nothing: the known lists are found as pages."""
    paged = {
        path
        for service in ("metadata", "indexer", "notify", "quota")
        for path, _, schema in _gets(_spec(service))
        if PAGE_FIELDS <= set(schema.get("properties", {}))
    }
    assert {
        "/documents",
        "/documents/search",
        "/documents/{document_id}/versions",
        "/documents/{document_id}/shares",
        "/shared",
        "/account/follows",
        "/changes",
        "/search",
        "/notifications",
        "/admin/accounts/top",
        "/admin/accounts/over-quota",
        "/admin/dlq",
    } <= paged

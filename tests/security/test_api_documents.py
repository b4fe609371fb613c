"""The running system's API documents match what it answers: the gateway's merged OpenAPI names
operations readably and declares every error as the `Problem` that real answers are; every list
is one cursor page (`cursor` and `limit` in, `items`, `next_cursor` and a `next` link out); `/docs` and
`/redoc` (the gateway's and each service's) load nothing from another origin; `/asyncapi` is the
document generated from libs/events."""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml

from docstore_devplatform.e2e import PASSWORD
from docstore_events import asyncapi

from .conftest import new_user

pytestmark = [pytest.mark.e2e]

PROBLEM = {"$ref": "#/components/schemas/Problem"}
SERVICES = ("metadata", "links", "upload", "quota", "indexer", "notify")


async def merged_spec(gateway: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gateway, timeout=40.0) as api:
        answer = await api.get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


def problem_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's Problem schema with its $refs resolvable by a plain JSON Schema validator."""
    schemas = json.loads(json.dumps(spec["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/Problem", "$defs": schemas}


async def test_the_merged_document_has_readable_unique_ids_and_declares_problems(system) -> None:
    spec = await merged_spec(system.gateway)
    ids, undeclared, not_problems = [], [], []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
            if not errors and path.startswith("/v1/"):  # the API, not the gateway's own probes
                undeclared.append(f"{method} {path}")
            for status, response in errors.items():
                schema = response.get("content", {}).get("application/problem+json", {}).get("schema")
                if schema != PROBLEM and "text/html" not in response.get("content", {}):
                    not_problems.append(f"{method} {path} {status}: {response}")
            if path.startswith("/v1/") and "{" in path:
                assert "404" in operation["responses"], f"{method} {path} names something but declares no 404"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    defaults = [i for i in ids if re.search(r"_(get|post|put|patch|delete)$", i) or "_v1_" in i]
    assert not defaults, f"FastAPI's default operation ids: {defaults}"
    assert not undeclared, f"operations that declare no error: {undeclared}"
    assert not not_problems, "\n".join(not_problems)
    assert "HTTPValidationError" not in json.dumps(spec)


async def test_real_errors_through_the_gateway_are_the_declared_problem(system) -> None:
    spec = await merged_spec(system.gateway)
    schema = problem_schema(spec)
    user = await new_user(system.gateway)
    taken = {"username": user.username, "email": user.email, "password": PASSWORD, "plan": "free"}
    cases = [
        ("GET", "/v1/documents", "/v1/documents", {}, None, 401),
        ("GET", f"/v1/documents/{uuid.uuid4().hex}", "/v1/documents/{document_id}", user.auth, None, 404),
        ("POST", "/v1/accounts", "/v1/accounts", {}, {"username": ""}, 422),
        ("POST", "/v1/accounts", "/v1/accounts", {}, taken, 409),
        ("GET", "/v1/documents?limit=0", "/v1/documents", user.auth, None, 422),
    ]
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        for method, url, path, headers, body, status in cases:
            answer = await api.request(method, url, headers=headers, json=body)
            assert answer.status_code == status, f"{method} {url}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"] == "application/problem+json", f"{method} {url}"
            assert str(status) in spec["paths"][path][method.lower()]["responses"], f"{method} {path} {status}"
            jsonschema_rs.validate(schema, answer.json())
            assert answer.json()["status"] == status


OTHER_PAGINATION = {"page", "per_page", "page_size", "pagesize", "offset", "skip", "start", "after", "before"}
"""Query parameters of other pagination styles (page/per_page, offsets, keyset pairs)."""


def pagination_problems(spec: dict[str, Any]) -> list[str]:
    """One pagination style on every list: a GET takes `cursor` exactly when it answers
    a page (an object whose `items` is an array) and then takes `limit` and answers `next_cursor`
    and `next` too; no other style's parameters; no 2xx answer that is a bare array."""
    schemas = spec.get("components", {}).get("schemas", {})

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    problems = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            if other := sorted(query & OTHER_PAGINATION):
                problems.append(f"{where}: takes {other} (lists page with cursor and limit)")
            pages = False
            for status, response in operation.get("responses", {}).items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if not status.startswith("2") or not body:
                    continue
                body = resolve(body)
                if body.get("type") == "array":
                    problems.append(f"{where} {status}: answers a bare array (lists answer a cursor page)")
                items = body.get("properties", {}).get("items")
                # A POST answering `items` is a batch read of what its body names (at most 50
                # previews, `POST /documents/previews`), not a list to page through.
                if method == "get" and items is not None and resolve(items).get("type") == "array":
                    pages = True
                    if missing := sorted({"next_cursor", "next"} - set(body.get("properties", {}))):
                        problems.append(f"{where} {status}: a page without {missing}")
            if pages and not {"cursor", "limit"} <= query:
                problems.append(
                    f"{where}: answers a page but takes {sorted(query & {'cursor', 'limit'})} of cursor, limit"
                )
            if "cursor" in query and not pages:
                problems.append(f"{where}: takes a cursor but answers no page")
    return problems


async def test_every_list_is_one_cursor_page(system) -> None:
    spec = await merged_spec(system.gateway)
    assert pagination_problems(spec) == []
    lists = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if any(p["name"] == "cursor" for p in operation.get("parameters", []))
    ]
    assert {("get", "/v1/documents"), ("get", "/v1/notifications"), ("get", "/v1/account/sessions")} <= set(lists)
    # The check reports each of the other styles, made on purpose in a copy.
    documents = spec["paths"]["/v1/documents"]["get"]
    broken = copy.deepcopy(spec)
    broken["paths"]["/v1/documents"]["get"]["parameters"].append({"name": "per_page", "in": "query"})
    assert any("takes ['per_page']" in p for p in pagination_problems(broken))
    broken = copy.deepcopy(spec)
    broken["paths"]["/v1/documents"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "array",
        "items": {},
    }
    assert any("bare array" in p for p in pagination_problems(broken))
    broken = copy.deepcopy(spec)
    broken["paths"]["/v1/documents"]["get"]["parameters"] = [p for p in documents["parameters"] if p["name"] != "limit"]
    assert any("answers a page but takes" in p for p in pagination_problems(broken))


def asset_urls(html: str) -> list[str]:
    found = re.findall(r'(?:src|href|spec-url)="([^"]+)"|url: \'([^\']+)\'', html)
    return [a or b for a, b in found]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_load_only_same_origin_assets(system, page: str) -> None:
    bases = [system.gateway, *(system.urls[service] for service in SERVICES)]
    async with httpx.AsyncClient(timeout=40.0) as client:
        for base in bases:
            answer = await client.get(f"{base}{page}")
            assert answer.status_code == 200, f"{base}{page}"
            urls = asset_urls(answer.text)
            assert "/openapi.json" in urls and len(urls) >= 3, answer.text
            for url in urls:
                assert url.startswith("/") and not url.startswith("//"), f"{base}{page} loads {url}"
                asset = await client.get(f"{base}{url}")
                assert asset.status_code == 200, f"{base}{url}"
            if base == system.gateway:
                policy = answer.headers["content-security-policy"]
                for directive in ("script-src", "style-src"):
                    sources = policy.split(f"{directive} ", 1)[1].split(";", 1)[0].split()
                    assert "'self'" in sources and not [s for s in sources if "://" in s], policy


async def test_the_gateway_serves_the_generated_asyncapi_document(system) -> None:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=40.0) as api:
        as_json, as_yaml = await api.get("/asyncapi"), await api.get("/asyncapi.yaml")
    assert as_json.status_code == 200 and as_json.json() == asyncapi.document()
    assert as_yaml.status_code == 200 and yaml.safe_load(as_yaml.text) == asyncapi.document()

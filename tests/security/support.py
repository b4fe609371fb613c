"""Helpers of the security suite: raw HTTP (paths sent byte for byte), identity tokens good and
bad, request values generated from an OpenAPI document, and mail read back from moto's SES."""

from __future__ import annotations

import asyncio
import http.client
import re
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt

# Status codes a caller without rights may get: never 2xx with someone else's data, never 5xx.
REFUSALS = frozenset({307, 400, 401, 403, 404, 405, 409, 410, 413, 422, 429})
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


# --- raw HTTP -------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def raw_request_sync(
    base: str,
    method: str,
    raw_path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 40.0,
) -> RawResponse:
    """Send `method raw_path` exactly as written: no normalisation of `..`, `//`, `%2e` or `\\`
    (httpx and browsers would clean the path before it leaves, which is not what an attacker does)."""
    parts = urlsplit(base)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":  # a TLS system (DOCSTORE_E2E_TLS): the run's CA, as SSL_CERT_FILE names it
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.putrequest(method, raw_path, skip_host=False, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


async def raw_request(
    base: str, method: str, raw_path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> RawResponse:
    """`raw_request_sync` off the event loop."""
    return await asyncio.to_thread(raw_request_sync, base, method, raw_path, headers, body)


# --- identity tokens -----------------------------------------------------------------------


IDENTITY_HEADER = "X-DocStore-Identity"  # docstore_kit.auth.IDENTITY_HEADER


def dev_internal_auth() -> Any:
    """The services' identity-token signer (`docstore_kit.auth.InternalAuth`) as every process of
    the test system has it (the development key is the default setting shared by all services)."""
    from docstore_gateway.settings import Settings
    from docstore_kit.auth import InternalAuth

    return InternalAuth.from_settings(Settings())


def _dev_key() -> tuple[str, str]:
    from docstore_gateway.settings import Settings
    from docstore_kit.auth import parse_keys

    settings = Settings()
    return settings.internal_auth_key_id, parse_keys(settings.internal_auth_keys)[settings.internal_auth_key_id]


def bad_identity_tokens(audience: str, subject: str) -> dict[str, str]:
    """Tokens a service must refuse (401), by what is wrong with them."""
    kid, key = _dev_key()
    now = int(time.time())
    claims = {
        "iss": "docstore",
        "aud": audience,
        "sub": subject,
        "role": "admin",
        "iat": now,
        "exp": now + 60,
        "by": "gateway",
    }
    return {
        "forged (another key, the real key id)": jwt.encode(claims, "k" * 48, algorithm="HS256", headers={"kid": kid}),
        "expired": jwt.encode(
            claims | {"iat": now - 900, "exp": now - 600}, key, algorithm="HS256", headers={"kid": kid}
        ),
        "wrong audience": jwt.encode(claims | {"aud": "someone-else"}, key, algorithm="HS256", headers={"kid": kid}),
        "unknown key id": jwt.encode(claims, key, algorithm="HS256", headers={"kid": "not-a-key"}),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        "garbage": "not.a.token",
    }


def identity(audience: str, subject: str, role: str = "user") -> dict[str, str]:
    """A valid identity header, as the gateway (or a service) would mint it."""
    return dev_internal_auth().headers(audience=audience, subject=subject, role=role)


def bare_identity(account_id: str) -> dict[str, str]:
    """The old, unsigned identity headers: anyone on the network can write them."""
    return {"X-Account-Id": account_id, "X-Account-Role": "admin"}


# --- OpenAPI-driven requests ---------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # the template, e.g. /v1/documents/{document_id}
    spec: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)


def operations(spec: Mapping[str, Any]) -> Iterator[Operation]:
    """Every operation of an OpenAPI document, in a stable order."""
    for path in sorted(spec.get("paths", {})):
        for method, operation in spec["paths"][path].items():
            if method in HTTP_METHODS:
                yield Operation(method.upper(), path, operation)


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example(
    spec: Mapping[str, Any], schema: Mapping[str, Any], overrides: Mapping[str, Any], name: str = "", depth: int = 0
) -> Any:
    """A small valid value for `schema`; a property named in `overrides` gets that value.

    Objects get their required properties plus any optional one `overrides` names, so a
    request reaches the code that decides who may do what instead of failing validation."""
    if name in overrides:
        return overrides[name]
    schema = _resolve(spec, schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if _resolve(spec, s).get("type") != "null"]
            return example(spec, options[0] if options else {}, overrides, name, depth)
    if "allOf" in schema:
        return example(spec, schema["allOf"][0], overrides, name, depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        properties = schema.get("properties", {})
        wanted = [p for p in properties if p in schema.get("required", []) or p in overrides]
        return {p: example(spec, properties[p], overrides, p, depth + 1) for p in wanted}
    if kind == "array":
        return [
            example(spec, schema.get("items", {}), overrides, name, depth + 1)
            for _ in range(max(1, schema.get("minItems", 1)))
        ]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1.0, float(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    if schema.get("format") == "date":
        return datetime.now(UTC).date().isoformat()
    return "x" * max(1, int(schema.get("minLength", 1)))


def request_body(spec: Mapping[str, Any], operation: Operation, overrides: Mapping[str, Any]) -> Any | None:
    """A minimal JSON body for the operation, or None when it takes none."""
    content = operation.spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return example(spec, content["application/json"].get("schema", {}), overrides)


def required_query(spec: Mapping[str, Any], operation: Operation, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The required query parameters, with `overrides` winning."""
    return {
        p["name"]: example(spec, p.get("schema", {}), overrides, p["name"])
        for p in operation.spec.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }


def fill_path(path: str, values: Mapping[str, Any]) -> str:
    """`/documents/{document_id}` with `values`' entries in place (every parameter must have one)."""
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), path)


# --- mail (moto's SES) ---------------------------------------------------------------------

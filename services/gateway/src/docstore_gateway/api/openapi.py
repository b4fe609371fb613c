"""One OpenAPI document for the public API, merged from the services behind the gateway."""

from __future__ import annotations

import re
from typing import Any

from docstore_gateway.adapters.upstreams import ROUTES, Upstreams, is_public

BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def merge(own: dict[str, Any], service_specs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's own spec plus every public path of each service, under `/v1`."""
    spec = {**own, "paths": dict(own.get("paths", {}))}
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {}).update(BEARER)
    for service, service_spec in service_specs.items():
        if not service_spec:
            continue
        for path, operations in service_spec.get("paths", {}).items():
            segment = path.strip("/").split("/", 1)[0]
            if ROUTES.get(segment) != service:
                continue  # internal or health routes stay private
            public_ops = {}
            for method, operation in operations.items():
                if not is_public(method, re.sub(r"\{[^}]+\}", "x", path)):
                    operation = {**operation, "security": [{"bearerAuth": []}]}
                # The gateway supplies X-Account-Id and X-Account-Role; callers never send them.
                operation["parameters"] = [
                    p for p in operation.get("parameters", [])
                    if p.get("name", "").lower() not in ("x-account-id", "x-account-role")
                ]
                public_ops[method] = operation
            spec["paths"][f"/v1{path}"] = public_ops
        schemas.update(service_spec.get("components", {}).get("schemas", {}))
    return spec


async def merged_spec(own: dict[str, Any], upstreams: Upstreams) -> tuple[dict[str, Any], bool]:
    """The merged spec, and whether every service answered (only then is it worth caching)."""
    specs = {service: await upstreams.openapi(service) for service in sorted(set(ROUTES.values()))}
    return merge(own, specs), all(specs.values())

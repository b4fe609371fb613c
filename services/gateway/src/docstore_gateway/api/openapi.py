"""One OpenAPI document for the public API, merged from the services behind the gateway.

It lists exactly what the route table forwards: an operation a service has but the table does
not name (its `/internal/...` routes, health, or a route someone forgot to publish) is left out."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.api.deps import ServicesDep
from docstore_gateway.api.edge import docs_html
from docstore_gateway.domain.routing import ROUTE_TABLE, route_for

BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
SERVICES = sorted({route.service for route in ROUTE_TABLE})


def merge(own: dict[str, Any], service_specs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's own spec plus every operation of each service that the route table publishes,
    under `/v1`."""
    spec = {**own, "paths": dict(own.get("paths", {}))}
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {}).update(BEARER)
    for service, service_spec in service_specs.items():
        if not service_spec:
            continue
        for path, operations in service_spec.get("paths", {}).items():
            published = {}
            for method, operation in operations.items():
                route = route_for(method, path)
                if route is None or route.service != service:
                    continue
                published[method] = operation if route.public else {**operation, "security": [{"bearerAuth": []}]}
            if published:
                spec["paths"][f"/v1{path}"] = published
        schemas.update(service_spec.get("components", {}).get("schemas", {}))
    return spec


async def merged_spec(own: dict[str, Any], upstreams: Upstreams) -> tuple[dict[str, Any], bool]:
    """The merged spec, and whether every service answered (only then is it worth caching)."""
    specs = {service: await upstreams.openapi(service) for service in SERVICES}
    return merge(own, specs), all(specs.values())


def install_docs(app: FastAPI) -> None:
    """`/openapi.json` (the merged document, cached once every service has answered) and `/docs`."""
    cache: dict[str, dict[str, Any]] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(services: ServicesDep) -> JSONResponse:
        if "spec" not in cache:
            spec, complete = await merged_spec(app.openapi(), services.upstreams)
            if not complete:
                return JSONResponse(spec)
            cache["spec"] = spec
        return JSONResponse(cache["spec"])

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # The page whose inline script the /docs Content-Security-Policy allows by its hash.
        return HTMLResponse(docs_html())

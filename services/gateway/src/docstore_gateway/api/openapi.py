"""One OpenAPI document for the public API, merged from the services behind the gateway.

It lists exactly what the route table forwards: an operation a service has but the table does
not name (its `/internal/...` routes, health, or a route someone forgot to publish) is left out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from docstore_events import asyncapi
from docstore_gateway.adapters.upstreams import Upstreams
from docstore_gateway.api.deps import ServicesDep
from docstore_gateway.domain.app_passwords import refusal as app_password_refusal
from docstore_gateway.domain.routing import PASSWORD_RESET, ROUTE_TABLE, SIGN_UP, PublicRoute, route_for
from docstore_kit.errors import PROBLEM_JSON, PROBLEM_RESPONSES

BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
APP_PASSWORD = {
    "appPassword": {
        "type": "http",
        "scheme": "basic",
        "description": "The username and an app password (POST /v1/account/app-passwords), for tools: "
        "`read-only` ones GET only; never account settings, security or admin routes",
    }
}
SERVICES = sorted({route.service for route in ROUTE_TABLE})


PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def gateway_answers(operation: dict[str, Any], route: PublicRoute) -> dict[str, Any]:
    """`operation` as the gateway publishes it, with the refusals the gateway adds: a bearer token
    required unless the route is public (else 401), a body above the gateway's limit refused
    with 413, sign-ups and password-reset requests throttled (429), and 503 when the owning service does not answer."""
    public = route.public
    responses = dict(operation.get("responses", {}))
    extra: dict[str, Any] = {}
    if not public:
        extra["security"] = [{"bearerAuth": []}]
        if app_password_refusal("webdav-sync", route.method, route.template) is None:
            extra["security"].append({"appPassword": []})
        responses.setdefault("401", {"description": PROBLEM_RESPONSES[401], "content": PROBLEM})
    if "requestBody" in operation:
        responses.setdefault("413", {"description": "Request body above the gateway's limit", "content": PROBLEM})
    if route is SIGN_UP or route is PASSWORD_RESET:
        responses.setdefault("429", {"description": PROBLEM_RESPONSES[429], "content": PROBLEM})
    responses.setdefault("503", {"description": PROBLEM_RESPONSES[503], "content": PROBLEM})
    return {**operation, **extra, "responses": responses}


def merge(own: dict[str, Any], service_specs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's own spec plus every operation of each service that the route table publishes,
    under `/v1`."""
    spec = {**own, "paths": dict(own.get("paths", {}))}
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {}).update(BEARER | APP_PASSWORD)
    for service, service_spec in service_specs.items():
        if not service_spec:
            continue
        for path, operations in service_spec.get("paths", {}).items():
            published = {}
            for method, operation in operations.items():
                route = route_for(method, path)
                if route is None or route.service != service:
                    continue
                published[method] = gateway_answers(operation, route)
            if published:
                spec["paths"][f"/v1{path}"] = published
        schemas.update(service_spec.get("components", {}).get("schemas", {}))
    return spec


async def merged_spec(own: dict[str, Any], upstreams: Upstreams) -> tuple[dict[str, Any], bool]:
    """The merged spec, and whether every service answered (only then is it worth caching)."""
    specs = {service: await upstreams.openapi(service) for service in SERVICES}
    return merge(own, specs), all(specs.values())


def install_docs(app: FastAPI) -> None:
    """`/openapi.json`: the merged document, cached once every service has answered (`/docs` and
    `/redoc`, which read it, come with every `service_app`); `/asyncapi` (and `/asyncapi.yaml`):
    the events' AsyncAPI document, generated from libs/events."""
    cache: dict[str, dict[str, Any]] = {}

    events = asyncapi.document()
    events_yaml = yaml.safe_dump(events, sort_keys=False, allow_unicode=True)

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        # The events are libs/events' classes: the document is the same for the process's life.
        return JSONResponse(events)

    @app.get("/asyncapi.yaml", include_in_schema=False)
    async def asyncapi_yaml() -> Response:
        return Response(events_yaml, media_type="application/yaml")

    @app.get("/docs/clients", include_in_schema=False)
    async def clients_page(services: ServicesDep) -> Response:
        """docs/standard-clients.md: working `curl` and `aws` commands for each way in and out."""
        path = services.settings.clients_page
        if not path:
            return Response("No such page here.", status_code=404, media_type="text/plain; charset=utf-8")
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        return Response(text, media_type="text/markdown; charset=utf-8")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(services: ServicesDep) -> JSONResponse:
        if "spec" not in cache:
            spec, complete = await merged_spec(app.openapi(), services.upstreams)
            if not complete:
                return JSONResponse(spec)
            cache["spec"] = spec
        return JSONResponse(cache["spec"])

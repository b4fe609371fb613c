"""The FastAPI app every service starts from: error shape, health, metrics, tracing and API docs."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pymongo import AsyncMongoClient

from docstore_events.runtime import EventRuntime
from docstore_events.tasks import stop_tasks
from docstore_kit.api_docs import install_api_docs
from docstore_kit.auth import InternalAuth, require_account_id, require_admin, require_identity, require_service
from docstore_kit.errors import PROBLEM_JSON, PROBLEM_RESPONSES, Problem, install_error_handlers
from docstore_kit.health import ReadinessCheck, install_health, install_metrics
from docstore_kit.observability import redact_span_attributes
from docstore_kit.request_origin import RequestOriginMiddleware
from docstore_kit.settings import mongodb_client_options

VERSION = "0.1.0"

GC_GEN0_THRESHOLD = 50_000
"""Allocations between two young-generation collections once a service has started (CPython's
default is 700): a request allocates thousands of objects that die with it, so at 700 every
request paid for several collections, each one also walking what survived the previous ones."""


def settle_gc(*, gen0_threshold: int = GC_GEN0_THRESHOLD) -> None:
    """Call once start-up is done: collect, then `gc.freeze()` every object alive (modules,
    routes, clients, pydantic schemas: about 130,000 in the gateway) into the permanent
    generation, so no later collection walks them again (a full collection of them took
    40-100 ms, a pause every request in flight waited out: the p99), and collect the young
    generation every `gen0_threshold` allocations instead of every 700. Garbage is still
    collected; only what start-up left alive is never examined again."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def mongo_client(settings: Any) -> AsyncMongoClient[Any]:
    """The service's MongoDB client (PyMongo's async API, timezone-aware datetimes). Create it
    inside the lifespan: it connects on first use."""
    return AsyncMongoClient(settings.mongodb_url, tz_aware=True, **mongodb_client_options(settings))


class ServiceRuntime:
    """A service's MongoDB client, its database and its event runtime, as one unit.

    Build it inside the lifespan, register subscribers on `events`, then `async with` it:
    the broker, consumer and outbox relay run inside the block and stop, with the MongoDB
    client, when it ends.
    """

    def __init__(self, settings: Any, **event_options: Any) -> None:
        self.mongo = mongo_client(settings)
        self.db = self.mongo[settings.mongodb_database]
        self.events = EventRuntime.for_service(settings, self.db, **event_options)
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def background(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work()` (a loop such as a watcher or sweeper) while the runtime is entered:
        started after the consumer, cancelled before it stops."""
        self._background.append((name, work))

    async def __aenter__(self) -> ServiceRuntime:
        await self.events.start()
        self._tasks = [asyncio.create_task(work(), name=name) for name, work in self._background]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await stop_tasks(self._tasks)
            await self.events.stop()
        finally:
            await self.mongo.close()

    def checks(self) -> dict[str, ReadinessCheck]:
        """Readiness of MongoDB and Kafka, for `service_app(checks=...)`."""
        return {"mongodb": lambda: self.mongo.admin.command("ping"), "kafka": self.events.ready}


def service_app(
    *,
    title: str,
    settings: Any,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    origin_from_peer: bool = False,
    freeze_gc: bool = False,
    **fastapi_options: Any,
) -> FastAPI:
    """A FastAPI app with the shared error handlers, `/healthz`, `/readyz`, `/metrics` and
    server spans that continue the caller's trace. `checks(app)` names the dependencies
    `/readyz` probes; it runs per request, after the lifespan has built the clients.

    `app.state.internal_auth` (built from `settings`, no I/O) verifies the identity token on
    every authenticated route and signs this service's calls to the others.

    `/docs` and `/redoc` are served from bundled assets (`api_docs`); they read `/openapi.json`
    (the gateway serves its merged document there). The OpenAPI document names each operation
    after its route function and declares the problems every operation can answer.

    Each request's origin (client address, user agent) is made current for the events it causes
    (`request_origin.py`): from the gateway's forwarded headers, or with `origin_from_peer` (the
    gateway itself) from the connection's peer.

    `freeze_gc`: `settle_gc()` once the lifespan has started (services on the request path:
    the gateway, the indexer's search).

    Server spans only: the ASGI instrumentation's internal spans for each `receive` and `send`
    message (two or three more spans per request, each with its attributes, started and ended on
    the response's path) are left out."""
    options = {"generate_unique_id_function": operation_id, **fastapi_options, "docs_url": None, "redoc_url": None}
    app = FastAPI(title=title, version=VERSION, lifespan=lifespan, **options)
    app.state.internal_auth = InternalAuth.from_settings(settings)
    install_error_handlers(app)
    install_api_docs(app, title=title)
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]  # FastAPI's documented override
    install_health(app, lambda: checks(app))
    install_metrics(app, settings)
    app.add_middleware(RequestOriginMiddleware, from_peer=origin_from_peer)
    # The hook runs after the instrumentation recorded the request's path and URL on the server
    # span: signed links (share-link pages, upload landing pages) leave it redacted.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="healthz,readyz,metrics",
        server_request_hook=redact_span_attributes,
        exclude_spans=["receive", "send"],
    )
    if freeze_gc:
        _settle_gc_after_start(app)
    return app


def _settle_gc_after_start(app: FastAPI) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_then_settle_gc(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            settle_gc()
            yield state

    app.router.lifespan_context = lifespan_then_settle_gc


def operation_id(route: APIRoute) -> str:
    """An operation's id: its route function's name (`sign_up`, not `sign_up_accounts_post`)."""
    return route.name


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_JSON_TYPES = {"application/json", PROBLEM_JSON}
_FORBIDDING = {require_account_id, require_admin, require_service}


def _calls(dependant: Dependant) -> set[Any]:
    found = set()
    for dependency in dependant.dependencies:
        found.add(dependency.call)
        found |= _calls(dependency)
    return found


def problem_statuses(route: RouteContext, declared: Mapping[str, Any]) -> set[int]:
    """The error statuses every route of its kind can answer: 422 where FastAPI validates input,
    404 where a path parameter names something, 401 where an identity is required, 403 where
    the identity must be of one kind."""
    statuses = {422} if "422" in declared else set()
    dependant: Dependant = route.dependant
    if dependant.path_params:
        statuses.add(404)
    calls = _calls(dependant)
    if require_identity in calls:
        statuses.add(401)
    if calls & _FORBIDDING:
        statuses.add(403)
    return statuses


def declare_problems(spec: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """`spec` with every error response (4xx, 5xx) as `application/problem+json` of `Problem`, the
    statuses of `problem_statuses` declared on each operation, and FastAPI's HTTPValidationError
    (a 422 shape no route answers) gone."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    # Routes of included routers are contexts that carry the prefix and the router's dependencies.
    for route in iter_route_contexts(routes):
        if not (isinstance(route.original_route, APIRoute) and route.include_in_schema):
            continue
        for method in route.methods or ():
            operation = spec.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in problem_statuses(route, responses):
                responses.setdefault(str(status), {"description": PROBLEM_RESPONSES[status]})
            for status, response in responses.items():
                if status[0] in "45":
                    # A route that answers an error in another type (an HTML page) keeps it.
                    content = response.get("content", {})
                    other = {kind: body for kind, body in content.items() if kind not in _JSON_TYPES}
                    response["content"] = other or {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        rest = {name: schema for name, schema in schemas.items() if name != unused}
        if f'"#/components/schemas/{unused}"' not in json.dumps({**spec, "components": {"schemas": rest}}):
            schemas.pop(unused, None)
    return spec


def documented_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for `app`, through `declare_problems`, built once."""
    if app.openapi_schema is None:
        app.openapi_schema = declare_problems(FastAPI.openapi(app), app.routes)
    return app.openapi_schema

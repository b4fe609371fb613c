"""The FastAPI app every service starts from: error shape, health, metrics, tracing and API docs."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pymongo import AsyncMongoClient

from docstore_kit.api_docs import install_api_docs
from docstore_kit.auth import InternalAuth, require_account_id, require_admin, require_identity, require_service
from docstore_kit.errors import PROBLEM_JSON, PROBLEM_RESPONSES, Problem, install_error_handlers
from docstore_kit.health import ReadinessCheck, install_health, install_metrics
from docstore_kit.observability import redact_span_attributes
from docstore_kit.request_origin import RequestOriginMiddleware
from docstore_kit.server_tick import quiet_server_tick
from docstore_kit.settings import mongodb_client_options
from docstore_messaging.outages import is_outage
from docstore_messaging.runtime import EventRuntime
from docstore_messaging.tasks import stop_tasks

log = structlog.get_logger(__name__)

VERSION = "0.1.0"

START_BACKOFF = (0.5, 10.0)
"""A start that met an outage is tried again after 0.5 s, doubling up to every 10 s."""
_STARTING: ContextVar[list[ServiceRuntime] | None] = ContextVar("docstore_starting_runtimes", default=None)
"""The runtimes built during one try of `waiting_for_servers`."""
BACKGROUND_BACKOFF = (1.0, 30.0)
"""A background loop that raised is started again after 1 s, doubling up to every 30 s."""

GC_GEN0_THRESHOLD = 50_000
"""Allocations between two young-generation collections once a service has started (CPython's
default is 700): a request allocates thousands of objects that die with it, so at 700 every
request paid for several collections, each one also walking what survived the previous ones."""


def settle_gc(*, gen0_threshold: int = GC_GEN0_THRESHOLD) -> None:
    """Call once start-up is done: collect, then `gc.freeze()` every object alive (modules,
    routes, clients, pydantic schemas: about 130,000 in the gateway, 200,000 in upload) into the
    permanent generation, so no later collection walks them again, and collect the young
    generation every `gen0_threshold` allocations instead of every 700. Garbage is still
    collected; only what start-up left alive is never examined again.

    Without it, each full collection walked all of start-up's objects again: 40-100 ms in the
    gateway, a pause every request in flight waited out (the p99); in upload, about once per
    1,000 small files (0.47-1.35 s of CPU each, a throwaway `gc.callbacks` probe). With it,
    upload's CPU per small file fell from 3.8 and 3.4 ms to 3.0 and 3.1 (`bench/upload.py`,
    B A B A, 2026-12-01; issue 35: the cost of one file).

    Once per process: when something is frozen already (a second app started in a test's
    process), the collector is left as it is, so the first app's garbage is all it keeps."""
    if gc.get_freeze_count():
        return
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
        if (opened := _STARTING.get()) is not None:
            opened.append(self)  # closed by `waiting_for_servers` if this start fails
        self.db = self.mongo[settings.mongodb_database]
        self.events = EventRuntime.for_service(settings, self.db, **event_options)
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def background(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work()` (a loop such as a watcher or sweeper) while the runtime is entered:
        started after the consumer, cancelled before it stops."""
        self._background.append((name, work))

    async def __aenter__(self) -> ServiceRuntime:
        try:
            await self.events.start()
        except BaseException:
            # A start that met an outage is tried again from a new runtime (`waiting_for_servers`):
            # this one lets go of what it opened.
            try:
                await self.events.stop()
            finally:
                await self.mongo.close()
            raise
        self._tasks = [asyncio.create_task(supervised(name, work), name=name) for name, work in self._background]
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


async def supervised(name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the loop `work()` until cancelled; if it raises (MongoDB away for longer than it
    retries, a bug), log it and start it again with backoff, so a watcher or sweeper never
    stops for good while the service answers as if all were well."""
    failures = 0
    while True:
        started = time.monotonic()
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # A loop that ran a while before failing starts again quickly.
            failures = 1 if time.monotonic() - started > BACKGROUND_BACKOFF[1] else failures + 1
            wait = min(BACKGROUND_BACKOFF[1], BACKGROUND_BACKOFF[0] * 2 ** min(failures - 1, 16))
            log.warning(
                "background_task_restarts", task=name, outage=is_outage(error), error=repr(error)[:300], retry_in=wait
            )
            await asyncio.sleep(wait)


def waiting_for_servers(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]], *, wait_seconds: float = 0
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`lifespan`, started again with backoff while it fails for an outage
    (`docstore_messaging.outages`: MongoDB, Kafka, S3 not answering yet), each try logged, so a
    service started before its servers (or while one restarts) waits for them instead of
    exiting. Any other error, or still failing after `wait_seconds` (0: no limit), ends the
    start as before. A lifespan builds its clients when it starts and closes them when its
    start fails, so each try begins afresh."""

    @asynccontextmanager
    async def lifespan_waiting_for_servers(app: FastAPI) -> AsyncIterator[None]:
        started = time.monotonic()
        attempt = 0
        async with AsyncExitStack() as stack:
            while True:
                attempt += 1
                opened: list[ServiceRuntime] = []
                token = _STARTING.set(opened)
                try:
                    await stack.enter_async_context(lifespan(app))
                    break
                except Exception as error:
                    # The failed try's MongoDB clients would otherwise go on monitoring (and
                    # reconnecting) for ever: one more per try during a long outage.
                    for runtime in opened:
                        await runtime.mongo.close()
                    waited = time.monotonic() - started
                    if not is_outage(error) or (wait_seconds and waited >= wait_seconds):
                        raise
                    retry_in = min(START_BACKOFF[1], START_BACKOFF[0] * 2 ** min(attempt - 1, 16))
                    log.warning(
                        "waiting_for_servers",
                        attempt=attempt,
                        waited_seconds=round(waited, 1),
                        retry_in=retry_in,
                        error=f"{type(error).__name__}: {error}"[:300],
                    )
                    await asyncio.sleep(retry_in)
                finally:
                    _STARTING.reset(token)
            if attempt > 1:
                log.info("servers_answered", attempts=attempt, waited_seconds=round(time.monotonic() - started, 1))
            yield

    return lifespan_waiting_for_servers


def service_app(
    *,
    title: str,
    settings: Any,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    origin_from_peer: bool = False,
    freeze_gc: bool = True,
    **fastapi_options: Any,
) -> FastAPI:
    """A FastAPI app with the shared error handlers, `/healthz`, `/readyz`, `/metrics` and
    server spans that continue the caller's trace. The lifespan is started again while it fails
    for an outage (`waiting_for_servers`). `checks(app)` names the dependencies
    `/readyz` probes; it runs per request, after the lifespan has built the clients.

    `app.state.internal_auth` (built from `settings`, no I/O) verifies the identity token on
    every authenticated route and signs this service's calls to the others.

    `/docs` and `/redoc` are served from bundled assets (`api_docs`); they read `/openapi.json`
    (the gateway serves its merged document there). The OpenAPI document names each operation
    after its route function and declares the problems every operation can answer.

    Each request's origin (client address, user agent) is made current for the events it causes
    (`request_origin.py`): from the gateway's forwarded headers, or with `origin_from_peer` (the
    gateway itself) from the connection's peer.

    `freeze_gc`: `settle_gc()` once the lifespan has started (every service; off only in the
    kit's own test of the collector left alone).

    Server spans only: the ASGI instrumentation's internal spans for each `receive` and `send`
    message (two or three more spans per request, each with its attributes, started and ended on
    the response's path) are left out.

    uvicorn's server loop ticks once a second in the process (`server_tick`)."""
    quiet_server_tick()  # before uvicorn's loop starts: the factory runs first
    options = {"generate_unique_id_function": operation_id, **fastapi_options, "docs_url": None, "redoc_url": None}
    wait_seconds = float(getattr(settings, "start_wait_seconds", 0) or 0)
    lifespan = waiting_for_servers(lifespan, wait_seconds=wait_seconds)
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

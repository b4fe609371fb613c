"""No request pays for a thread hop it does not need.

FastAPI runs a plain `def` endpoint or dependency in its thread pool: each request then waits
for a worker thread and back, once per such function, even when the function only reads
`app.state`. In the gateway's search path two such dependencies took about a quarter of the
request's CPU (py-spy, issue 15). Every endpoint and dependency of every service is therefore
`async def`; one that must block would say so here, with its reason."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ("gateway", "metadata", "upload", "quota", "indexer", "notify", "accounts", "analytics", "webdav", "links")


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(routes: Any) -> Iterator[tuple[APIRoute, list[Any]]]:
    """Every APIRoute, with the dependencies its including routers add (FastAPI 0.165 keeps an
    included router as one `_IncludedRouter` entry holding the original router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route, []
        elif (original := getattr(route, "original_router", None)) is not None:
            added = [d.dependency for d in (route.include_context.dependencies or []) if d.dependency]
            for inner, more in _api_routes(original.routes):
                yield inner, added + more


def _is_async(call: Any) -> bool:
    method = call.__call__ if not inspect.isfunction(call) else None
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(method)


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_and_dependency_runs_on_the_event_loop(service: str) -> None:
    main = importlib.import_module(f"docstore_{service}.main")
    settings = importlib.import_module(f"docstore_{service}.settings")
    app = main.create_app(settings.Settings())
    blocking = set()
    routes = list(_api_routes(app.routes))
    assert len(routes) > 3, f"{service}: the walk found no routes"
    for route, added in routes:
        for call in added:
            if not _is_async(call):
                blocking.add(f"router dependency {getattr(call, '__qualname__', call)} of {route.path}")
        if not _is_async(route.endpoint):
            blocking.add(f"endpoint {route.path} {route.endpoint.__qualname__}")
        for call in _calls(route.dependant):
            if not _is_async(call):
                blocking.add(f"dependency {getattr(call, '__qualname__', call)} of {route.path}")
    assert not blocking, f"{service}: runs in the thread pool: {sorted(blocking)}"

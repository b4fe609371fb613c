"""What every service accepts from a request (issue 33, findings 3 and 10), read off the routers
themselves: every string of a request body is a `docstore_kit.text.Text` (valid Unicode, so a
lone surrogate is a 422, not a 500 where it is stored), and every integer of a body, query or
path has a lower and an upper bound (so 2**63 is a 422, not a 500 where MongoDB refuses it)."""

from __future__ import annotations

import importlib
import pkgutil
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import annotated_types
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel

from docstore_kit.text import is_text

SERVICES = ("gateway", "metadata", "upload", "quota", "indexer", "notify", "accounts", "analytics", "webdav", "links")


def routes() -> Iterator[tuple[str, APIRoute]]:
    for service in SERVICES:
        package = importlib.import_module(f"docstore_{service}.api")
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"docstore_{service}.api.{info.name}")
            for router in [value for value in vars(module).values() if isinstance(value, APIRouter)]:
                for route in router.routes:
                    if isinstance(route, APIRoute):
                        yield service, route


def _bounded(metadata: list[Any]) -> bool:
    low = any(isinstance(item, annotated_types.Ge | annotated_types.Gt) for item in metadata)
    high = any(isinstance(item, annotated_types.Le | annotated_types.Lt) for item in metadata)
    return low and high


def _leaves(annotation: Any, metadata: list[Any]) -> Iterator[tuple[Any, list[Any]]]:
    """Each scalar type in an annotation with the constraints that apply to it."""
    if typing.get_origin(annotation) is Annotated:
        inner, *extra = typing.get_args(annotation)
        yield from _leaves(inner, [*metadata, *extra])
    elif typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            # A container's own constraints (a list's max_length) are not its items'.
            yield from _leaves(
                argument, metadata if typing.get_origin(annotation) in (typing.Union, types_union()) else []
            )
    else:
        yield annotation, metadata


def types_union() -> Any:
    import types

    return types.UnionType


def _fields(model: type[BaseModel], where: str, seen: set[type]) -> Iterator[tuple[str, Any, list[Any]]]:
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        for leaf, metadata in _leaves(field.annotation, list(field.metadata)):
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                yield from _fields(leaf, f"{where}.{name}", seen)
            else:
                yield f"{where}.{name}", leaf, metadata


def inputs() -> Iterator[tuple[str, str, Any, list[Any]]]:
    """(service, where, type, constraints) of every scalar a route takes from a request."""
    seen: set[type] = set()
    for service, route in routes():
        operation = f"{sorted(route.methods)[0]} {route.path}"
        for param in [*route.dependant.query_params, *route.dependant.path_params]:
            for leaf, metadata in _leaves(param.field_info.annotation, list(param.field_info.metadata)):
                yield service, f"{operation} {param.name}", leaf, metadata
        if route.body_field is not None:
            body = route.body_field.field_info.annotation
            for leaf, _ in _leaves(body, []):
                if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                    for where, scalar, metadata in _fields(leaf, leaf.__name__, seen):
                        yield service, where, scalar, metadata + ["body"]


def test_every_string_of_a_request_body_is_text() -> None:
    plain = [
        f"{service}: {where}"
        for service, where, scalar, metadata in inputs()
        if scalar is str and "body" in metadata and not is_text(metadata)
    ]
    assert not plain, "declare these as docstore_kit.text.Text (a lone surrogate would reach the database):\n" + (
        "\n".join(plain)
    )


def test_every_integer_a_request_carries_has_bounds() -> None:
    unbounded = [
        f"{service}: {where}"
        for service, where, scalar, metadata in inputs()
        if scalar is int and not _bounded(metadata)
    ]
    assert not unbounded, "give these ge= and le= (MongoDB stores 64-bit integers at most):\n" + "\n".join(unbounded)

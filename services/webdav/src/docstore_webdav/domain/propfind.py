"""What a PROPFIND asks and how its streamed answer is framed (pure).

A Depth 1 answer is sent as it is made: the multistatus' opening, then the `<response>`s of one
backend page at a time, then its close; so the service holds one page, never the whole folder."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")

DAV = "{DAV:}"
HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
TAIL = b"</D:multistatus>\n"


class BadPropfind(ValueError):
    """The body is not a PROPFIND request WebDAV defines (RFC 4918 14.20): 400."""


def request_of(element: Any | None) -> tuple[str, list[str]]:
    """The mode (`allprop`, `name` or `named`) and, for `named`, the property names (Clark
    notation) of a parsed `<D:propfind>` body; an empty body is `allprop` (RFC 4918 9.1).
    `allprop`, `propname` and `prop` exclude each other (400); `<D:include>` adds nothing to allprop
    here (every live property we have is in allprop already)."""
    if element is None:
        return "allprop", []
    if element.tag != DAV + "propfind":
        raise BadPropfind("the body is not a DAV:propfind")
    mode: str | None = None
    names: list[str] = []
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == DAV + "allprop":
            if mode:
                raise BadPropfind("allprop with another of allprop, propname, prop")
            mode = "allprop"
        elif tag in (DAV + "propname", DAV + "name"):  # WsgiDAV 4.4 knew only `name`
            if mode:
                raise BadPropfind("propname with another of allprop, propname, prop")
            mode = "name"
        elif tag == DAV + "prop":
            if mode not in (None, "named"):
                raise BadPropfind("prop with allprop or propname")
            mode = "named"
            names.extend(prop.tag for prop in child if isinstance(prop.tag, str))
    return mode or "named", names  # naming nothing asks for nothing, as WsgiDAV answered


def pages(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, read lazily (one list in memory at a time)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    it = iter(items)
    while page := list(islice(it, size)):
        yield page

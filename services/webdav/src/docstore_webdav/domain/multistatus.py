"""One `<D:response>` of a PROPFIND answer, written as text (pure).

WsgiDAV builds each member's response as an lxml element tree (`util.add_property_response`),
then serializes it: for a listing of 10,000 documents that tree building, not the values, was
most of this service's time per member. This writes the same bytes WsgiDAV's tree serializes to
(the same namespace prefixes, element order and escaping; `tests/unit/test_propfind.py` compares
them), for the values a listing has: text, an empty property, a property's error status, and the
few structured values this service makes itself (`Node`). Anything else (an lxml element: a dead
property, a lock's description) is not written here: `response` answers None and the caller lets
WsgiDAV write that member."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DAV_NS = "DAV:"


@dataclass(frozen=True)
class Node:
    """A structured property value: an element (Clark name), its text or its child elements."""

    name: str
    children: tuple[Node, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class Status:
    """A property this resource does not have (or could not read): its status line, e.g.
    `404 Not Found`, written as an empty element in a `<propstat>` of its own."""

    line: str


RESOURCETYPE_COLLECTION = Node("{DAV:}resourcetype", (Node("{DAV:}collection"),))
LOCKDISCOVERY_NONE = Node("{DAV:}lockdiscovery")
SUPPORTEDLOCK = Node(
    "{DAV:}supportedlock",
    tuple(
        Node(
            "{DAV:}lockentry",
            (Node("{DAV:}lockscope", (Node(f"{{DAV:}}{scope}"),)), Node("{DAV:}locktype", (Node("{DAV:}write"),))),
        )
        for scope in ("exclusive", "shared")
    ),
)
"""What WsgiDAV answers for `supportedlock` (exclusive and shared write locks)."""

# What libxml2 refuses in text (lxml raises ValueError): such a value goes to WsgiDAV's writer,
# which fails as it did before.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_ATTRIBUTE = re.compile('[&<>"\t\n\r]')
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


class Unwritable(ValueError):
    """A value this writer does not write (WsgiDAV's tree writes it)."""


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def text(value: str) -> str:
    """`value` as element text, escaped as libxml2 escapes it."""
    if _NOT_XML.search(value):
        raise Unwritable("not XML text")
    return value.translate(_ESCAPES)


class _Names:
    """Clark names to prefixed names: `D:` for DAV:, `NS1`... in the order WsgiDAV numbers the
    property names' namespaces. One per list of property names (every member of a listing is asked
    the same ones), kept in `_NAMES`."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.prefixes: dict[str, str] = {DAV_NS: "D"}
        declared: list[tuple[str, str]] = []
        for name in names:
            ns, _ = _split(name)
            if ns and ns not in self.prefixes:
                prefix = f"NS{len(declared) + 1}"
                self.prefixes[ns] = prefix
                declared.append((prefix, ns))
        self.writable = not any(_NOT_ATTRIBUTE.search(ns) for _, ns in declared)
        self.head = "<D:response" + "".join(f' xmlns:{prefix}="{ns}"' for prefix, ns in declared) + ' xmlns:D="DAV:">'
        self.tags: dict[str, str] = {}
        self.nodes: dict[Node, str] = {}

    def tag(self, name: str) -> str:
        tag = self.tags.get(name)
        if tag is None:
            ns, local = _split(name)
            if not ns:
                tag = local
            elif (prefix := self.prefixes.get(ns)) is not None:
                tag = f"{prefix}:{local}"
            else:  # a child in a namespace no property name has: lxml would declare it there
                raise Unwritable(f"namespace {ns} is not declared")
            self.tags[name] = tag
        return tag

    def node(self, node: Node) -> str:
        written = self.nodes.get(node)
        if written is None:
            tag = self.tag(node.name)
            if node.children:
                written = f"<{tag}>" + "".join(self.node(child) for child in node.children) + f"</{tag}>"
            elif node.text is not None:
                written = f"<{tag}>{text(node.text)}</{tag}>"
            else:
                written = f"<{tag}/>"
            if node.text is None:  # constant (lock support, a collection): written once per listing
                self.nodes[node] = written
        return written


_NAMES: dict[tuple[str, ...], _Names] = {}


def _names(names: tuple[str, ...]) -> _Names:
    found = _NAMES.get(names)
    if found is None:
        if len(_NAMES) > 256:
            _NAMES.clear()
        found = _NAMES[names] = _Names(names)
    return found


def response(href: str, props: Sequence[tuple[str, Any]]) -> str:
    """The `<D:response>` of `href` with `props` ((Clark name, value): str, None for an empty
    element, a `Node`, or a `Status`), byte for byte as WsgiDAV writes it: one `<propstat>` per
    status, in the order each status first appears. Raises `Unwritable` for any other value."""
    names = _names(tuple(name for name, _ in props))
    if not names.writable:
        raise Unwritable("a namespace libxml2 would escape")
    by_status: dict[str, list[str]] = {}  # in the order each status first appears, as WsgiDAV
    tag = names.tag
    for name, value in props:
        status = "200 OK"
        if type(value) is str:
            t = tag(name)
            written = f"<{t}>{text(value)}</{t}>"
        elif isinstance(value, Node):
            written = names.node(value)
        elif value is None:
            written = f"<{tag(name)}/>"
        elif isinstance(value, Status):
            status, written = value.line, f"<{tag(name)}/>"
        else:
            raise Unwritable(f"a {type(value).__name__} value")
        by_status.setdefault(status, []).append(written)
    out = [names.head, "<D:href>", text(href), "</D:href>"]
    for status, elements in by_status.items():
        out.append("<D:propstat><D:prop>")
        out.extend(elements)
        out.append(f"</D:prop><D:status>HTTP/1.1 {text(status)}</D:status></D:propstat>")
    out.append("</D:response>")
    return "".join(out)

"""PROPFIND Depth 0 and 1, streamed (issue 38): the answer is written one backend page at a time
and sent as it is made, instead of WsgiDAV's whole multistatus built in memory.

The provider hands PROPFIND here (`DocStoreProvider.custom_request_handler`, WsgiDAV's hook for
it), inside WsgiDAV's own pipeline: the resource, the `If` header and a bad body are still
answered by WsgiDAV's error handling, before the first byte. Each page's facts are read in one
query each before its `<response>`s are made (dead properties, direct locks, X-OC-Mtime and
checksums), so a listing costs a few queries a page, not a few an item. The properties are
WsgiDAV's own (`get_properties`), so allprop, propname and prop answer as before.

The first page is read before the status is sent, so a service away is still a 503; a failure on
a later page ends the stream without closing the multistatus (the client sees a broken answer,
never a short listing that looks complete)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_NOT_FOUND, DAVError, as_DAVError, get_http_status_string
from wsgidav.lock_man.lock_manager import normalize_lock_root
from wsgidav.xml_tools import etree, make_multistatus_el

from docstore_webdav.adapters.stores import PRIMED
from docstore_webdav.domain import multistatus
from docstore_webdav.domain.locks import lock_root
from docstore_webdav.domain.propfind import HEAD, TAIL, BadPropfind, request_of

PAGE = 200
DEAD = PRIMED
"""environ: {ref_url: [dead property rows]} of the page being written (PropertyStoreMongo reads it)."""
SLOW = object()
"""`listing_value`'s answer for a property it does not make: WsgiDAV's `get_property_value` does."""
LOCKED = "docstore.locked"
"""environ: (the page's lock roots, those of them with a live lock)."""


def lock_key(ref_url: str) -> str:
    """The key WsgiDAV's lock manager looks a resource's direct locks up by."""
    return lock_root(normalize_lock_root(ref_url))


def prime(provider: Any, environ: dict[str, Any], resources: list[Any]) -> None:
    """Read what the page's `<response>`s need from this service's database, one query each."""
    urls = [res.get_ref_url() for res in resources]
    store = provider.prop_manager
    if store is not None and hasattr(store, "many"):
        environ[DEAD] = store.many(urls)
    locks = getattr(provider.lock_manager, "storage", None)
    if locks is not None and hasattr(locks, "locked_roots"):
        keys = {lock_key(url) for url in urls}
        environ[LOCKED] = (keys, locks.locked_roots(sorted(keys)))


def properties(res: Any, mode: str, names: list[str]) -> list[tuple[str, Any]]:
    """What WsgiDAV's `get_properties` answers, (name, value) pairs, with the values a resource
    makes directly (`listing_value`: no DAVError raised and caught per missing property, no
    element tree) where it has them. An error is its DAVError, as WsgiDAV's."""
    direct = getattr(res, "listing_value", None)
    if direct is None:  # a resource without it: WsgiDAV's own
        props: list[tuple[str, Any]] = res.get_properties(mode, name_list=names if mode == "named" else None)
        return props
    if mode != "named":
        names = res.get_property_names(is_allprop=mode == "allprop")
        if mode == "name":
            return [(name, None) for name in names]
    props = []
    for name in names:
        try:
            value = direct(name)
            if value is SLOW:
                value = res.get_property_value(name)
        except DAVError as error:
            value = error
        except Exception as error:  # as WsgiDAV: a property that fails is a 500 propstat, not a failed answer
            value = as_DAVError(error)
        props.append((name, value))
    return props


def response(res: Any, mode: str, names: list[str]) -> bytes:
    """One `<response>`, written as text (domain/multistatus.py); by WsgiDAV's element tree when
    a value is one only it writes (a dead property, a lock's description)."""
    props = properties(res, mode, names)
    href = res.get_href()
    try:
        return multistatus.response(
            href,
            [(n, multistatus.Status(get_http_status_string(v)) if isinstance(v, DAVError) else v) for n, v in props],
        ).encode("ascii", "xmlcharrefreplace")  # as lxml's tostring(): non-ASCII as &#NNN;
    except multistatus.Unwritable:
        tree = make_multistatus_el()
        util.add_property_response(
            tree, href, [(n, _element(v) if isinstance(v, multistatus.Node) else v) for n, v in props]
        )
        return b"".join(etree.tostring(element) for element in tree)


def _element(node: multistatus.Node) -> Any:
    element = etree.Element(node.name)
    element.text = node.text
    for child in node.children:
        element.append(_element(child))
    return element


def responses(provider: Any, environ: dict[str, Any], resources: list[Any], mode: str, names: list[str]) -> bytes:
    """The `<response>`s of one page, serialized."""
    prime(provider, environ, resources)
    return b"".join(response(res, mode, names) for res in resources)


def handle(provider: Any, environ: dict[str, Any], start_response: Callable[..., Any], default: Any) -> Any:
    """Depth 0 or 1 here, anything else to WsgiDAV (`api/dav.py` already refused infinity)."""
    depth = environ.get("HTTP_DEPTH", "infinity").strip().lower()
    if depth not in ("0", "1"):
        return default(environ, start_response)
    res = provider.get_resource_inst(environ["PATH_INFO"], environ)
    if res is None:
        raise DAVError(HTTP_NOT_FOUND, context_info=environ["PATH_INFO"])
    server = getattr(default, "__self__", None)
    if server is not None and hasattr(server, "_evaluate_if_headers"):
        server._evaluate_if_headers(res, environ)
    try:
        mode, names = request_of(util.parse_xml_body(environ, allow_empty=True))
    except BadPropfind as error:
        raise DAVError(HTTP_BAD_REQUEST, context_info=str(error)) from error
    member_pages: Iterator[list[Any]] = res.member_pages(PAGE) if depth == "1" and res.is_collection else iter(())
    first = responses(provider, environ, [res], mode, names) + responses(
        provider, environ, next(member_pages, []), mode, names
    )
    start_response(
        "207 Multi-Status",
        [("Content-Type", "application/xml; charset=utf-8"), ("Date", util.get_rfc1123_time())],
    )
    return _stream(provider, environ, first, member_pages, mode, names)


def _stream(
    provider: Any, environ: dict[str, Any], first: bytes, rest: Iterator[list[Any]], mode: str, names: list[str]
) -> Iterator[bytes]:
    yield HEAD + first
    for page in rest:
        yield responses(provider, environ, page, mode, names)
    environ.pop(DEAD, None)
    environ.pop(LOCKED, None)
    yield TAIL

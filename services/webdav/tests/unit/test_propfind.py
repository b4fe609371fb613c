"""PROPFIND's pure parts and its streamed answer (fakes for the provider and its resources)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
from wsgidav.dav_error import DAVError

from docstore_webdav.domain.propfind import TAIL, BadPropfind, pages, request_of
from docstore_webdav.service_layer import propfind


def body(xml: str) -> ElementTree.Element:
    return ElementTree.fromstring(xml)


def test_the_request_names_its_mode_and_properties() -> None:
    assert request_of(None) == ("allprop", [])
    assert request_of(body('<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')) == ("allprop", [])
    assert request_of(body('<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>')) == ("name", [])
    asked = '<D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns"><D:prop><D:getetag/><oc:checksums/></D:prop></D:propfind>'
    assert request_of(body(asked)) == ("named", ["{DAV:}getetag", "{http://owncloud.org/ns}checksums"])
    for bad in (
        '<D:propfind xmlns:D="DAV:"><D:allprop/><D:prop><D:getetag/></D:prop></D:propfind>',
        '<D:propfind xmlns:D="DAV:"><D:propname/><D:allprop/></D:propfind>',
        '<D:propertyupdate xmlns:D="DAV:"/>',
    ):
        with pytest.raises(BadPropfind):
            request_of(body(bad))


def test_pages_read_lazily() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for n in range(5):
            taken.append(n)
            yield n

    it = pages(items(), 2)
    assert next(it) == [0, 1]
    assert taken == [0, 1]
    assert list(it) == [[2, 3], [4]]
    assert list(pages([], 3)) == []
    with pytest.raises(ValueError):
        list(pages([1], 0))


class Res:
    def __init__(self, name: str, *, collection: bool = False, members: Iterator[list[Res]] | None = None) -> None:
        self.name = name
        self.is_collection = collection
        self.members = members

    def get_ref_url(self) -> str:
        return f"/acct/{self.name}"

    def get_href(self) -> str:
        return f"/remote.php/webdav/{self.name}"

    def get_properties(self, mode: str, *, name_list: list[str] | None = None) -> list[tuple[str, Any]]:
        assert mode == "named" and name_list == ["{DAV:}getetag"]
        return [("{DAV:}getetag", f"etag-{self.name}")]

    def member_pages(self, size: int) -> Iterator[list[Res]]:
        assert self.members is not None
        return self.members


class Provider:
    prop_manager = None
    lock_manager = None

    def __init__(self, root: Res) -> None:
        self.root = root

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Res | None:
        return self.root if path == "/acct/" else None


ASK = b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'


def environ(path: str = "/acct/", depth: str = "1") -> dict[str, Any]:
    return {"PATH_INFO": path, "HTTP_DEPTH": depth, "CONTENT_LENGTH": str(len(ASK)), "wsgi.input": io.BytesIO(ASK)}


def test_depth_1_streams_a_page_at_a_time() -> None:
    made: list[int] = []

    def member_pages() -> Iterator[list[Res]]:
        for n in range(3):
            made.append(n)
            yield [Res(f"doc-{n}-{k}") for k in range(2)]

    started: list[str] = []
    answer = propfind.handle(
        Provider(Res("", collection=True, members=member_pages())),
        environ(),
        lambda status, headers: started.append(status),
        None,
    )
    assert started == ["207 Multi-Status"]
    assert made == [0]  # the first page is read before the status, the others as the body is sent
    chunks = [next(answer)]
    assert made == [0]
    chunks += list(answer)
    assert made == [0, 1, 2]
    tree = ElementTree.fromstring(b"".join(chunks))
    hrefs = [e.text for e in tree.iter("{DAV:}href")]
    assert hrefs == ["/remote.php/webdav/"] + [f"/remote.php/webdav/doc-{n}-{k}" for n in range(3) for k in range(2)]
    assert [e.text for e in tree.iter("{DAV:}getetag")][1] == "etag-doc-0-0"


def test_depth_0_lists_the_resource_only_and_a_missing_one_is_404() -> None:
    def never() -> Iterator[list[Res]]:
        raise AssertionError("Depth 0 reads no member")
        yield []

    answer = propfind.handle(
        Provider(Res("", collection=True, members=never())), environ(depth="0"), lambda *a: None, None
    )
    tree = ElementTree.fromstring(b"".join(answer))
    assert len(list(tree.iter("{DAV:}response"))) == 1
    with pytest.raises(DAVError):
        propfind.handle(Provider(Res("")), environ("/acct/nothing"), lambda *a: None, None)


def test_a_failure_after_the_first_page_leaves_the_multistatus_unclosed() -> None:
    def member_pages() -> Iterator[list[Res]]:
        yield [Res("a")]
        raise DAVError(503)

    answer = propfind.handle(
        Provider(Res("", collection=True, members=member_pages())), environ(), lambda *a: None, None
    )
    sent = [next(answer)]
    with pytest.raises(DAVError):
        sent += list(answer)
    assert TAIL not in b"".join(sent)


def test_infinity_goes_to_wsgidav() -> None:
    called: list[str] = []
    propfind.handle(Provider(Res("")), environ(depth="infinity"), None, lambda env, start: called.append("wsgidav"))
    assert called == ["wsgidav"]


class Rows:
    """A collection that counts its queries (find_one / find with $in)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries = 0

    def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.queries += 1
        return next((r for r in self.rows if r["_id"] == query["_id"]), None)

    def find(self, query: dict[str, Any], *_: Any) -> list[dict[str, Any]]:
        self.queries += 1
        key, cond = next(iter(query.items()))
        return [r for r in self.rows if r.get(key) in cond["$in"]]


def test_a_page_reads_its_dead_properties_in_one_query() -> None:
    from docstore_webdav.adapters.stores import PRIMED, PropertyStoreMongo

    store = PropertyStoreMongo.__new__(PropertyStoreMongo)
    store.props = Rows([{"_id": "/acct/a", "props": [{"name": "{x:}colour", "value": "<colour>red</colour>"}]}])
    urls = [f"/acct/{name}" for name in ("a", "b", "c")]
    env = {PRIMED: store.many(urls)}
    assert store.props.queries == 1
    assert [store.get_properties(url, env) for url in urls] == [["{x:}colour"], [], []]
    assert store.get_property("/acct/a", "{x:}colour", env) == "<colour>red</colour>"
    assert store.props.queries == 1  # every later read from the page's one query
    assert store.get_properties("/acct/a", {}) == ["{x:}colour"] and store.props.queries == 2  # unprimed: asked


def test_a_document_reads_its_facts_once_and_again_only_for_new_bytes() -> None:
    from docstore_webdav.service_layer.provider import Document

    class Facts:
        calls = 0

        def get(self, account_id: str, document_id: str, sha256: str) -> dict[str, Any]:
            Facts.calls += 1
            return {"sha256": sha256, "mtime": 1_700_000_000.0} if sha256 == "b" * 64 else {}

    provider = type("P", (), {"facts": Facts()})()
    doc = {"document_id": "d1", "sha256": "a" * 64, "size": 3, "modified_at": "2026-01-01T00:00:00Z"}
    env = {"wsgidav.provider": provider}
    unknown = Document(provider, "acct", ("x.txt",), doc, env)
    for _ in range(3):
        assert unknown.get_last_modified() == 1767225600.0
    assert Facts.calls == 1  # no row is an answer too: not asked again for each property
    listed = Document(provider, "acct", ("x.txt",), doc, env, {})
    assert listed.get_last_modified() == 1767225600.0 and Facts.calls == 1  # the listing's page said "none"
    listed.doc = doc | {"sha256": "b" * 64}  # a PUT changed the bytes in this request
    assert listed.get_last_modified() == 1_700_000_000.0 and Facts.calls == 2


def test_lock_keys_are_the_lock_managers() -> None:
    assert propfind.lock_key("/acct/a%20b/") == "/acct/a%20b"
    assert propfind.lock_key("/acct") == "/acct"


# --- the members' `<response>`s, written as text: the same bytes as WsgiDAV's element tree -----


class Collection:
    """A MongoDB collection with these rows, for the lock and dead-property stores."""

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows = rows or []

    def find(self, query: dict[str, Any], *_: Any) -> list[dict[str, Any]]:
        key, cond = next(iter(query.items()))
        return [r for r in self.rows if r.get(key) in cond["$in"]]

    def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["_id"] == query["_id"]), None)

    def create_index(self, *_: Any, **__: Any) -> None:
        pass


def listing(dead: list[dict[str, Any]] | None = None) -> tuple[Any, dict[str, Any], list[Any]]:
    """The real provider, WsgiDAV's lock and property managers over fake collections, and a page of
    members: a folder, a document with X-OC-Mtime and checksums, one without, one whose name
    needs escaping."""
    from wsgidav.error_printer import ErrorPrinter
    from wsgidav.request_resolver import RequestResolver
    from wsgidav.wsgidav_app import WsgiDAVApp

    from docstore_webdav.adapters.stores import LockStorageMongo, PropertyStoreMongo, begin_request
    from docstore_webdav.service_layer.provider import ACCOUNT, PREFIX, DocStoreProvider, Document, Folder

    class Usage:
        def usage(self, account_id: str) -> dict[str, int]:
            return {"used_bytes": 10, "room_bytes": 90}

    db = {"locks": Collection(), "properties": Collection(dead)}
    provider = DocStoreProvider(Usage(), None)  # type: ignore[arg-type]
    WsgiDAVApp(
        {
            "provider_mapping": {"/": provider},
            "lock_storage": LockStorageMongo(db, max_seconds=600),  # type: ignore[arg-type]
            "property_manager": PropertyStoreMongo(db),  # type: ignore[arg-type]
            "middleware_stack": [ErrorPrinter, RequestResolver],
            "http_authenticator": {"domain_controller": None, "accept_basic": False, "accept_digest": False},
            "simple_dc": {"user_mapping": {"*": True}},
            "dir_browser": {"enable": False},
            "logging": {"enable": False},
        }
    )
    env: dict[str, Any] = {ACCOUNT: "acct", PREFIX: "/remote.php/dav/files/ann", "wsgidav.provider": provider}
    begin_request()
    doc = {
        "document_id": "d1",
        "name": "a.txt",
        "size": 35,
        "sha256": "a" * 64,
        "content_type": "text/plain",
        "created_at": "2026-01-01T00:00:00Z",
        "modified_at": "2026-01-02T10:00:00Z",
        "version": 2,
    }
    facts = {"sha256": "a" * 64, "sha1": "b" * 40, "md5": "c" * 32, "mtime": 1_700_000_000.5}
    members = [
        Folder(provider, "acct", ("big",), {"folder_id": "f1", "created_at": "2026-01-01T00:00:00Z"}, env),
        Folder(provider, "acct", ("big", "sub"), {"folder_id": "f2", "created_at": "2025-05-01T00:00:00Z"}, env),
        Document(provider, "acct", ("big", "a.txt"), doc, env, facts),
        Document(provider, "acct", ("big", "b.txt"), doc | {"document_id": "d2", "name": "b.txt"}, env, {}),
        Document(provider, "acct", ("big", "R&D <1> é.txt"), doc | {"document_id": "d3"}, env, {}),
    ]
    return provider, env, members


RCLONE = [
    "{DAV:}displayname",
    "{DAV:}getlastmodified",
    "{DAV:}getcontentlength",
    "{DAV:}resourcetype",
    "{DAV:}getcontenttype",
    "{http://owncloud.org/ns}checksums",
    "{http://owncloud.org/ns}permissions",
]
ASKED = [
    ("named", RCLONE),
    ("named", ["{DAV:}getetag", "{DAV:}nothing", "{urn:x}colour", "{DAV:}creationdate", "plain"]),
    ("named", ["{DAV:}lockdiscovery", "{DAV:}supportedlock", "{DAV:}quota-used-bytes", "{DAV:}quota-available-bytes"]),
    ("named", ["{http://owncloud.org/ns}fileid", "{http://owncloud.org/ns}id", "{http://owncloud.org/ns}size"]),
    ("named", ["{urn:b}one", "{DAV:}getetag", "{urn:a}two", "{http://owncloud.org/ns}checksums"]),
    ("allprop", []),
    ("name", []),
]


def wsgidav_wrote(res: Any, mode: str, names: list[str]) -> bytes:
    from wsgidav import util
    from wsgidav.xml_tools import etree, make_multistatus_el

    tree = make_multistatus_el()
    util.add_property_response(
        tree, res.get_href(), res.get_properties(mode, name_list=names if mode == "named" else None)
    )
    return b"".join(etree.tostring(element) for element in tree)


@pytest.mark.parametrize(("mode", "names"), ASKED)
def test_a_members_response_is_the_bytes_wsgidav_wrote(mode: str, names: list[str]) -> None:
    provider, env, members = listing()
    propfind.prime(provider, env, members)
    for res in members:
        assert propfind.response(res, mode, names) == wsgidav_wrote(res, mode, names)


def test_a_dead_property_or_a_lock_goes_to_wsgidavs_writer_and_still_matches() -> None:
    dead = [
        {"_id": "/acct/big/a.txt", "props": [{"name": "{urn:x}colour", "value": "<colour xmlns='urn:x'>red</colour>"}]}
    ]
    provider, env, members = listing(dead)
    propfind.prime(provider, env, members)
    document = members[2]
    for mode, names in (("named", ["{urn:x}colour", "{DAV:}getetag"]), ("allprop", [])):
        written = propfind.response(document, mode, names)
        assert written == wsgidav_wrote(document, mode, names)
        assert b"red" in written
    env.pop(propfind.LOCKED)  # the page's lock query not made: each member asks the lock manager
    for res in members:
        assert propfind.response(res, "named", ["{DAV:}lockdiscovery"]) == wsgidav_wrote(
            res, "named", ["{DAV:}lockdiscovery"]
        )


def test_text_escaped_as_libxml2_and_what_it_refuses_is_not_written() -> None:
    from docstore_webdav.domain import multistatus

    written = multistatus.response("/a&b", [("{DAV:}displayname", "R&D <1>\r")])
    assert "<D:href>/a&amp;b</D:href>" in written and "R&amp;D &lt;1&gt;&#13;" in written
    for bad in ("\x01", "\ud800"):
        with pytest.raises(multistatus.Unwritable):
            multistatus.response("/a", [("{DAV:}displayname", bad)])
    with pytest.raises(multistatus.Unwritable):
        multistatus.response("/a", [("{DAV:}x", object())])


def test_the_next_metadata_page_is_asked_for_while_this_one_is_written() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from docstore_webdav.adapters.backend import Backend

    asked: list[str | None] = []
    second = threading.Event()

    def metadata(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        if cursor == "2":
            second.set()
        first = int(cursor or 0)
        items = [{"name": f"d{n}"} for n in range(first, first + 2)]
        return httpx.Response(200, json={"items": items, "next_cursor": str(first + 2) if first + 2 < 6 else None})

    auth = type("Auth", (), {"headers": lambda self, **_: {}})()
    client = httpx.Client(transport=httpx.MockTransport(metadata), base_url="http://metadata")
    backend = Backend(auth, {"metadata": client}, client)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=1) as ahead:
        items = backend.documents("acct", "/big", ahead)
        assert next(items)["name"] == "d0"
        assert second.wait(10)  # page 2 asked for while page 1 is still being handed out
        assert [item["name"] for item in items] == ["d1", "d2", "d3", "d4", "d5"]
    assert asked == [None, "2", "4"]
    asked.clear()
    items = backend.documents("acct", "/big")
    assert next(items)["name"] == "d0" and asked == [None]  # without a pool: one page at a time
    assert len(list(items)) == 5 and asked == [None, "2", "4"]

"""GET of a document answered `302 Found` with the signed S3 URL of the version read, for clients
that follow it (`domain/redirects.py` decides which); every other request goes on to WsgiDAV. The
URL is metadata's (short-lived, for that version's object only, audited as every download); a
path that is not one of the caller's documents goes on to WsgiDAV too (404, or the folder's
answer).

A streamed GET the gateway asks to take over (`docstore_kit.handoff`) is answered by WsgiDAV as
usual, status and headers, but with no bytes: the document's content notes the same signed URL
and the range's start instead (`Handoff`), and the answer names them for the gateway, which reads
the bytes from S3 itself. Any other answer (304, 412, 416, an error, an empty document) goes
back as WsgiDAV made it.

A PUT's answer gets the headers the provider left for it (`X-OC-MTime: accepted`, `OC-FileId`,
`OC-ETag`, `Server-Timing`): WsgiDAV has no hook for a PUT's headers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wsgidav.dav_error import DAVError

from docstore_kit import handoff
from docstore_webdav.domain.redirects import handoff_get, redirect_get
from docstore_webdav.service_layer.provider import HANDOFF, PUT_HEADERS, DocStoreProvider, Document

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class GetRedirect:
    def __init__(self, dav: WsgiApp, provider: DocStoreProvider, user_agents: Sequence[str]) -> None:
        self.dav = dav
        self.provider = provider
        self.user_agents = tuple(user_agents)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if redirect_get(environ, self.user_agents):
            environ.setdefault("wsgidav.provider", self.provider)  # what WsgiDAV's resources read
            try:
                found = self.provider.get_resource_inst(environ.get("PATH_INFO", "/"), environ)
                if isinstance(found, Document) and found.doc is not None:
                    url = found.signed_url()
                    start_response(
                        "302 Found",
                        [
                            ("Location", url),
                            ("Content-Length", "0"),
                            ("Cache-Control", "no-store"),
                            ("ETag", f'"{found.get_etag()}"'),
                        ],
                    )
                    return [b""]
            except DAVError:
                pass  # WsgiDAV answers the same lookup's failure in its own words
        if handoff_get(environ):
            return self._handed_off(environ, start_response)
        if environ.get("REQUEST_METHOD") == "PUT":

            def with_put_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                return start_response(status, [*headers, *environ.get(PUT_HEADERS, [])], *exc)

            return self.dav(environ, with_put_headers)
        return self.dav(environ, start_response)

    def _handed_off(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        note: dict[str, Any] = {}
        environ[HANDOFF] = note
        started: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers, exc_info]
            return _no_write

        body = self.dav(environ, keep)
        chunks = iter(body)
        first = next(chunks, b"")  # WsgiDAV decides the answer, and opens the content, by here
        if "url" in note and not first:
            _close(body)
            status, headers, _ = started
            length = next(int(v) for k, v in headers if k.lower() == "content-length")
            start = int(note["start"])
            kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
            start_response(
                status,
                [
                    *kept,
                    ("Content-Length", "0"),
                    (handoff.URL, note["url"]),
                    (handoff.RANGE, f"bytes={start}-{start + length - 1}"),
                ],
            )
            return [b""]
        start_response(*started)
        return _Rest(itertools.chain([first], chunks), body)


def _no_write(data: bytes) -> None:
    raise RuntimeError("WsgiDAV writes through its iterable only")


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class _Rest:
    """The rest of WsgiDAV's answer after its first block, closed as WsgiDAV's own iterable."""

    def __init__(self, chunks: Iterable[bytes], body: Iterable[bytes]) -> None:
        self.chunks = chunks
        self.body = body

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        _close(self.body)

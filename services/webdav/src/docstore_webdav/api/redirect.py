"""GET of a document answered `302 Found` with the signed S3 URL of the version read, for clients
that follow it (`domain/redirects.py` decides which); every other request goes on to WsgiDAV, which
streams. The URL is metadata's (short-lived, for that version's object only, audited as every
download); a path that is not one of the caller's documents goes on to WsgiDAV too (404, or the
folder's answer).

A PUT's answer gets the headers the provider left for it (`X-OC-MTime: accepted`, `OC-FileId`,
`OC-ETag`, `Server-Timing`): WsgiDAV has no hook for a PUT's headers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from wsgidav.dav_error import DAVError

from docstore_webdav.domain.redirects import redirect_get
from docstore_webdav.service_layer.provider import PUT_HEADERS, DocStoreProvider, Document

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
        if environ.get("REQUEST_METHOD") == "PUT":

            def with_put_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                return start_response(status, [*headers, *environ.get(PUT_HEADERS, [])], *exc)

            return self.dav(environ, with_put_headers)
        return self.dav(environ, start_response)

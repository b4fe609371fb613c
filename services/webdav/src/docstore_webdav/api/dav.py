"""The WSGI side: who is calling (the gateway's signed identity, never a client's header), which
account's tree the URL names, then WsgiDAV on the internal path `/{account_id}/...`.

Refused here, before WsgiDAV: no or a bad identity (401), a username that is not the caller's
(404, as for a path that does not exist: another account's name is not confirmed), a PROPFIND
with Depth infinity (403 `propfind-finite-depth`, RFC 4918 9.1), an XML body over the size limit
(413) or with a DOCTYPE (entities, external or not, are never parsed: 400), a Destination under
another account or outside the DAV root (502, as WsgiDAV answers another host)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from docstore_kit.auth import IDENTITY_HEADER, InternalAuth, InvalidIdentity
from docstore_webdav.adapters.backend import Backend, BackendError
from docstore_webdav.domain.paths import NotOurs, internal_path, split_client_path
from docstore_webdav.service_layer.provider import ACCOUNT, PREFIX

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})
USERNAME_SECONDS = 300.0
_IDENTITY_KEY = "HTTP_" + IDENTITY_HEADER.upper().replace("-", "_")


def _answer(
    start_response: StartResponse, status: str, text: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = (text + "\n").encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers + (extra or []))
    return [body]


def _propfind_infinity(start_response: StartResponse) -> list[bytes]:
    body = b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n'
    start_response(
        "403 Forbidden", [("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class DavEntry:
    """The WSGI app the ASGI adapter calls: checks, then `dav` (WsgiDAV) on the internal path."""

    def __init__(self, dav: WsgiApp, auth: InternalAuth, backend: Backend, *, max_xml_bytes: int) -> None:
        self.dav = dav
        self.auth = auth
        self.backend = backend
        self.max_xml_bytes = max_xml_bytes
        self._usernames: dict[str, tuple[float, str]] = {}

    def username(self, account_id: str) -> str:
        cached = self._usernames.get(account_id)
        if cached and time.monotonic() - cached[0] < USERNAME_SECONDS:
            return cached[1]
        name = str(self.backend.account(account_id)["username"])
        if len(self._usernames) > 50_000:
            self._usernames.clear()
        self._usernames[account_id] = (time.monotonic(), name)
        return name

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            identity = self.auth.verify(environ.get(_IDENTITY_KEY, ""), audience="webdav")
        except InvalidIdentity:
            return _answer(start_response, "401 Unauthorized", "no valid identity: come through the gateway")
        if identity.role not in ("user", "admin"):
            return _answer(start_response, "403 Forbidden", "WebDAV serves accounts, not services")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        try:
            root = split_client_path(path)
        except NotOurs as error:
            return _answer(start_response, "404 Not Found", str(error))
        account_id = identity.subject
        if root.username is not None:
            try:
                mine = self.username(account_id)
            except BackendError:
                return _answer(
                    start_response,
                    "503 Service Unavailable",
                    "the accounts service is unavailable",
                    [("Retry-After", "1")],
                )
            if root.username.lower() != mine.lower():
                return _answer(start_response, "404 Not Found", "no such user folder: use your own username")
        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").strip().lower() == "infinity":
            return _propfind_infinity(start_response)
        if method in XML_METHODS:
            refused = self._check_xml(environ, start_response)
            if refused is not None:
                return refused
        if "HTTP_DESTINATION" in environ:
            dest = self._destination(environ["HTTP_DESTINATION"], account_id)
            if dest is None:
                return _answer(start_response, "502 Bad Gateway", "the Destination is not under the same DAV root")
            environ["HTTP_DESTINATION"] = dest
        environ[ACCOUNT] = account_id
        environ[PREFIX] = root.prefix
        environ["wsgidav.auth.user_name"] = account_id
        environ["wsgidav.auth.realm"] = "DocStore"
        environ["wsgidav.auth.roles"] = []
        environ["PATH_INFO"] = internal_path(account_id, root.rest)
        environ["SCRIPT_NAME"] = ""
        return self.dav(environ, start_response)

    def _check_xml(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        length = environ.get("CONTENT_LENGTH") or ""
        if not length.isdigit():
            if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
                return _answer(start_response, "411 Length Required", "send XML bodies with a Content-Length")
            return None
        size = int(length)
        if size > self.max_xml_bytes:
            return _answer(
                start_response, "413 Content Too Large", f"XML bodies may hold at most {self.max_xml_bytes} bytes"
            )
        body = environ["wsgi.input"].read(size) if size else b""
        lowered = body.lower()
        if b"<!doctype" in lowered or b"<!entity" in lowered:
            return _answer(start_response, "400 Bad Request", "XML with a DOCTYPE or entities is not accepted")
        environ["wsgi.input"] = io.BytesIO(body)
        return None

    def _destination(self, header: str, account_id: str) -> str | None:
        """The Destination rewritten to the internal path (`/{account_id}/...`), or None when it
        leaves the caller's own files. The gateway already made it path-only (its own host)."""
        path = unquote(urlsplit(header).path)
        try:
            root = split_client_path(path)
            if root.username is not None and root.username.lower() != self.username(account_id).lower():
                return None
        except (NotOurs, BackendError):
            return None
        return quote(internal_path(account_id, root.rest), safe="/!*'(),$-_|.~")

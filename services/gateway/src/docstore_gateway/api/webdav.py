"""The WebDAV route (issue 38): `/remote.php/dav/files/{username}/...` and `/remote.php/webdav/...`
go to the webdav service with the verified identity, bodies streamed both ways (a 1 GiB PUT or GET
never sits in the gateway's memory) through aiohttp (`StreamClient`): a 1 GiB PUT passed on costs
the gateway 0.9-1.2 s of CPU, against 1.3-1.7 s through httpx (bench/webdav.py). The path was
checked by the edge (no dot segments, encoded separators or control characters); the service
checks the username is the caller's.

A GET's bytes come from S3 straight to the gateway (`docstore_kit.handoff`): the service answers
with the status, the headers and the signed URL and range of the bytes, and the gateway streams
those from S3 (aiohttp, `StreamClient`), one hop and a third of the CPU of passing them on."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from docstore_gateway.api.deps import ServicesDep
from docstore_gateway.api.routes import client_address
from docstore_gateway.bootstrap import Services
from docstore_gateway.domain.errors import Unauthenticated, UpstreamUnavailable
from docstore_gateway.domain.webdav import (
    METHODS,
    REQUEST_HEADERS,
    RESPONSE_HEADERS,
    destination_path,
    handoff_length,
    without_body,
)
from docstore_kit import handoff

router = APIRouter()
CHALLENGE = {"WWW-Authenticate": 'Basic realm="DocStore WebDAV", charset="UTF-8"'}
HANDOFF_URL, HANDOFF_RANGE = handoff.URL.lower(), handoff.RANGE.lower()
"""The handoff's headers as `Streamed.headers` names them (lower case)."""


async def _dav(request: Request, services: ServicesDep) -> Response:
    method = request.method.upper()
    if method not in METHODS:
        return Response(status_code=405, headers={"Allow": ", ".join(sorted(METHODS))})
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("ascii", "replace").partition("?")[0]
    try:
        caller = await services.webdav_callers.caller(
            request.headers.get("authorization"), method=method, address=client_address(request), target=path
        )
    except Unauthenticated as refused:
        return Response(
            content=str(refused), status_code=401, headers=CHALLENGE, media_type="text/plain; charset=utf-8"
        )
    headers = {name: value for name, value in request.headers.items() if name.lower() in REQUEST_HEADERS}
    if "destination" in headers:
        dest = destination_path(headers["destination"], request_host=request.headers.get("host", ""))
        if dest is None:
            return Response("the Destination names another host\n", status_code=502, media_type="text/plain")
        headers["destination"] = dest
    headers |= services.upstreams.auth.headers(audience="webdav", subject=caller.account_id, role=caller.role)
    headers["x-docstore-client-address"] = client_address(request)
    if method == "GET":
        headers[handoff.ASK] = "1"
    has_body = "content-length" in headers or "transfer-encoding" in request.headers
    try:
        answer = await services.webdav_client.request(
            method, services.webdav_url + path, headers, request.stream() if has_body else None
        )
    except httpx.HTTPError as error:
        raise UpstreamUnavailable("webdav") from error
    returned: dict[str, Any] = {k: v for k, v in answer.headers.items() if k in RESPONSE_HEADERS}
    if HANDOFF_URL in answer.headers:
        await answer.aclose()
        return await _from_storage(services, answer.status, returned, answer.headers)
    if without_body(answer.status):
        # No body, so no Content-Length (WsgiDAV writes one): a client honouring it would wait forever.
        await answer.aclose()
        returned.pop("content-length", None)
        return Response(status_code=answer.status, headers=returned)
    return StreamingResponse(
        answer.chunks(), status_code=answer.status, headers=returned, background=BackgroundTask(answer.aclose)
    )


async def _from_storage(services: Services, status: int, returned: dict[str, Any], named: dict[str, str]) -> Response:
    """The bytes the webdav service named (its signed URL and range), read from S3 and passed on
    with the service's status and headers."""
    byte_range = named.get(HANDOFF_RANGE, "")
    length = handoff_length(byte_range)
    if length is None:
        raise UpstreamUnavailable("webdav")
    body = await services.stored_bytes.open(named[HANDOFF_URL], byte_range, length)
    returned["content-length"] = str(length)
    return StreamingResponse(body, status_code=status, headers=returned)


router.add_api_route("/remote.php/{path:path}", _dav, methods=sorted(METHODS), include_in_schema=False)

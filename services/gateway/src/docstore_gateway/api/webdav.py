"""The WebDAV route (issue 38): `/remote.php/dav/files/{username}/...` and `/remote.php/webdav/...`
go to the webdav service with the verified identity, bodies streamed both ways (a 1 GiB PUT or GET
never sits in the gateway's memory). The path was checked by the edge (no dot segments, encoded
separators or control characters); the service checks the username is the caller's."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from docstore_gateway.api.deps import ServicesDep
from docstore_gateway.api.routes import client_address
from docstore_gateway.domain.errors import Unauthenticated, UpstreamUnavailable
from docstore_gateway.domain.webdav import (
    METHODS,
    REQUEST_HEADERS,
    RESPONSE_HEADERS,
    destination_path,
    without_body,
)

router = APIRouter()
CHALLENGE = {"WWW-Authenticate": 'Basic realm="DocStore WebDAV", charset="UTF-8"'}


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
    client = services.webdav_client
    has_body = "content-length" in headers or "transfer-encoding" in request.headers
    upstream = client.build_request(method, path, headers=headers, content=request.stream() if has_body else None)
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.HTTPError as error:
        raise UpstreamUnavailable("webdav") from error
    returned: dict[str, Any] = {k: v for k, v in answer.headers.items() if k.lower() in RESPONSE_HEADERS}
    if without_body(answer.status_code):
        # No body, so no Content-Length (WsgiDAV writes one): a client honouring it would wait forever.
        await answer.aclose()
        returned.pop("content-length", None)
        return Response(status_code=answer.status_code, headers=returned)
    return StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, headers=returned, background=BackgroundTask(answer.aclose)
    )


router.add_api_route("/remote.php/{path:path}", _dav, methods=sorted(METHODS), include_in_schema=False)

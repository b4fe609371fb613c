"""What a WebDAV client reads when something no handler expected escapes WsgiDAV's handlers:
WsgiDAV's own page, made by its `ErrorPrinter`, with `QuietErrors` between it and the handlers
(as `bootstrap` stacks them). A dependency away is 503 with `Retry-After`; a bug is a 500 whose
page names neither the exception nor a host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pymongo.errors
import pytest
from structlog.testing import capture_logs
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_INTERNAL_ERROR, DAVError
from wsgidav.error_printer import ErrorPrinter

from docstore_webdav.adapters.backend import Backend, BackendError
from docstore_webdav.adapters.errors import QuietErrors

SECRET_HOST = "mongo-7.internal:27017"


def answer(handler: Any) -> tuple[str, dict[str, str], bytes]:
    """The status, headers and body the client gets when `handler` serves the request."""
    config: dict[str, Any] = {}
    stack = ErrorPrinter(None, QuietErrors(None, handler, config), config)
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.update(status=status, headers=dict(headers))

    body = b"".join(stack({"PATH_INFO": "/acc/a.txt", "REQUEST_METHOD": "GET"}, start_response))
    return started["status"], started["headers"], body


def raising(error: BaseException) -> Any:
    def handler(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        raise error

    return handler


def raising_midway(error: BaseException) -> Any:
    """A handler whose body fails while it is iterated (a GET's generator), before any byte."""

    def handler(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        def body() -> Iterator[bytes]:
            raise error
            yield b""  # pragma: no cover

        return body()

    return handler


@pytest.mark.parametrize("shape", [raising, raising_midway])
def test_a_server_away_is_a_503_with_retry_after_naming_no_host(shape: Any) -> None:
    status, headers, body = answer(shape(pymongo.errors.ServerSelectionTimeoutError(SECRET_HOST)))
    assert status.startswith("503")
    assert headers["Retry-After"].isdigit()
    assert SECRET_HOST.encode() not in body and b"ServerSelection" not in body


@pytest.mark.parametrize(
    "error",
    [
        AttributeError(f"'NoneType' object has no attribute {SECRET_HOST!r}"),
        DAVError(HTTP_INTERNAL_ERROR, src_exception=KeyError(SECRET_HOST)),
    ],
)
def test_a_bug_is_a_500_whose_page_names_nothing_inside(error: BaseException) -> None:
    status, _, body = answer(raising(error))
    assert status.startswith("500")
    assert SECRET_HOST.encode() not in body
    assert b"Error" not in body.replace(b"Internal Server Error", b"")


def test_an_answer_a_handler_chose_is_left_as_it_is() -> None:
    status, _, body = answer(raising(DAVError(HTTP_FORBIDDEN, "names may not end in a dot")))
    assert status.startswith("403")
    assert b"names may not end in a dot" in body


def test_a_call_that_gets_no_answer_is_a_503_with_its_cause_logged_and_no_signed_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://upload")
    auth = type("Auth", (), {"headers": lambda self, **_: {}})()
    backend = Backend(auth, {"upload": client}, client)  # type: ignore[arg-type]
    signed = "http://s3/bucket/key?X-Amz-Signature=secret-signature"
    with capture_logs() as lines:
        with pytest.raises(BackendError) as service_away:
            backend._call("upload", "acct", "POST", "/uploads/batch/complete")
        with pytest.raises(BackendError) as s3_away:
            backend.put_part(signed, [b"x"], 1)
    assert (service_away.value.status, s3_away.value.status) == (503, 503)
    assert [(line["event"], line["target"], line["method"]) for line in lines] == [
        ("webdav_backend_unavailable", "upload", "POST"),
        ("webdav_backend_unavailable", "S3", "PUT"),
    ]
    assert all(line["error"].startswith("RemoteProtocolError: Server disconnected") for line in lines)
    assert "secret-signature" not in repr(lines)

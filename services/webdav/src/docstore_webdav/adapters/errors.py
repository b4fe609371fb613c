"""WsgiDAV's answers to what no handler expected, made the platform's: a server this service
depends on being away (MongoDB for locks and properties, another service, S3) is 503 with
`Retry-After`, as every other service answers (`docstore_kit.errors`); anything else is a 500
whose page names nothing inside. WsgiDAV's own `ErrorPrinter` writes the exception's `repr`
into its page (`Source exception: ServerSelectionTimeoutError('127.0.0.1:27017 ...')`), which
names hosts and code; the log keeps it instead."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from wsgidav.dav_error import HTTP_INTERNAL_ERROR, HTTP_SERVICE_UNAVAILABLE, DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from docstore_kit.errors import RETRY_AFTER_SECONDS
from docstore_messaging.outages import is_outage

log = structlog.get_logger(__name__)


def quiet(error: BaseException, path: str) -> DAVError:
    """The answer to `error`, which escaped WsgiDAV's handlers while serving `path`."""
    if isinstance(error, DAVError):
        if error.value < 500 or error.src_exception is None:
            return error
        cause: BaseException = error.src_exception
    else:
        cause = error
    if is_outage(cause):
        log.warning("webdav_dependency_unavailable", path=path, error=f"{type(cause).__name__}: {cause}"[:300])
        return DAVError(
            HTTP_SERVICE_UNAVAILABLE,
            "a service is unavailable; try again",
            add_headers=[("Retry-After", str(RETRY_AFTER_SECONDS))],
        )
    log.error("webdav_unhandled_error", path=path, exc_info=cause)
    status = error.value if isinstance(error, DAVError) else HTTP_INTERNAL_ERROR
    return DAVError(status, "internal error")


class QuietErrors(BaseMiddleware):
    """Between WsgiDAV's `ErrorPrinter` (which writes the page) and its `RequestResolver`: every
    exception, raised by the call or while its body is iterated, reaches the printer as `quiet`'s
    answer."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        try:
            answer: Iterable[bytes] = self.next_app(environ, start_response)
            yield from answer
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        except Exception as error:  # noqa: BLE001  (every escaped error is answered, never as a page naming it)
            raise quiet(error, path) from None

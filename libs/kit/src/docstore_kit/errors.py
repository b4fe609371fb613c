"""One error shape for every service, never a stack trace.

Domain code raises a `DomainError` subclass; the class carries the HTTP status and the problem
type, so routes hold no try/except to translate it. `install_error_handlers` installs the one
handler that answers it as `application/problem+json` (RFC 9457):

    {"type": "urn:docstore:problem:no-room", "title": "Not enough room", "status": 413,
     "detail": "This file is 6.4 GB but only 5.0 GB is left on your Free plan. ...", ...extra members}

`detail` is what clients have always read (`{"detail": "..."}`); a few errors keep a structured
`detail` they answered before, and may add members of their own through `extra()`.

A service defines one subclass per meaning, under the generic one with the right status:

    class NoRoom(TooLarge):
        problem = "no-room"
        title = "Not enough room"
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from docstore_messaging.outages import OUTAGE_CLASSES, is_outage

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:docstore:problem:"
"""Problem types are URNs: stable names clients can match on, not pages anyone has to host."""


class ValidationIssue(BaseModel):
    """One thing wrong with a request, as the 422 problem's `errors` lists it."""

    loc: list[str | int] = Field(description="where: `body`, `query`, `path` or `header`, then the field's path")
    msg: str = Field(description="what is wrong, for a person")
    type: str = Field(description="pydantic's error type, for a program (`missing`, `string_too_long`, ...)")


class Problem(BaseModel):
    """An RFC 9457 problem: every error answer of every service, as `application/problem+json`.

    `type` is a URN clients match on (`urn:docstore:problem:<name>`); `detail` is a message
    for a person, or for a few errors an object they answered before. Some problems add members
    of their own (a 422 lists `errors`), so more members may follow."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="`urn:docstore:problem:<name>`: what went wrong, for a program", pattern=r"^urn:")
    title: str = Field(description="a short summary of the problem type")
    status: int = Field(description="the HTTP status of the answer", ge=400, le=599)
    detail: str | dict[str, Any] = Field(description="what went wrong this time")
    errors: list[ValidationIssue] | None = Field(default=None, description="a 422's list of invalid inputs")


PROBLEM_RESPONSES: dict[int, str] = {
    400: "Malformed request",
    401: "No valid credentials",
    403: "Not allowed for this caller",
    404: "No such resource, or not one the caller may see",
    409: "Conflicts with the resource's current state",
    410: "Gone for good",
    413: "Too large",
    422: "Invalid request: `errors` lists what is wrong",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "A dependency did not answer; try again",
}
"""The description of each error status an operation may declare."""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status answered as a `Problem` (`application/problem+json`).
    The app factory already declares 401/403/404/422 where they apply; routes add the others
    they can give, e.g. `responses=problem_responses(409, 413)`."""
    return {
        status: {
            "description": PROBLEM_RESPONSES.get(status) or HTTPStatus(status).phrase,
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


class DomainError(Exception):
    """A refusal the domain means to give, answered with `status` and the problem `problem`.

    Subclasses set the class attributes; override `detail()` for a message other than the
    exception's own, and `extra()` for members beyond RFC 9457's four."""

    status: ClassVar[int] = 500
    problem: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def detail(self) -> Any:
        """The `detail` member: the exception's message for a 4xx; for a 5xx only the title,
        since a server-side message may name hosts, queries or other internals."""
        return str(self) if self.status < 500 else self.title

    def extra(self) -> dict[str, Any]:
        """Members added to the answer beside type, title, status and detail (which they cannot replace)."""
        return {}


class Invalid(DomainError):
    """The request breaks a rule; the message says which."""

    status = 422
    problem = "invalid"
    title = "Invalid request"


class Forbidden(DomainError):
    """The caller may not do this."""

    status = 403
    problem = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    """No such thing, or not one the caller may see."""

    status = 404
    problem = "not-found"
    title = "Not found"


class Conflict(DomainError):
    """The request does not fit the current state of what it names."""

    status = 409
    problem = "conflict"
    title = "Conflict"


class TooLarge(DomainError):
    """More than is allowed."""

    status = 413
    problem = "too-large"
    title = "Too large"


RETRY_AFTER_SECONDS = 5
"""`Retry-After` of a 503: long enough for a restarted server to be back, short enough that a
client retrying by hand does not give up."""


class Unavailable(DomainError):
    """Something this service depends on did not answer; trying again later may work.
    Answered with `Retry-After`; consumers retry the event instead of dead-lettering it
    (`docstore_messaging.outages`)."""

    status = 503
    problem = "unavailable"
    title = "Service unavailable"
    outage: ClassVar[bool] = True
    retry_after: ClassVar[int] = RETRY_AFTER_SECONDS

    def detail(self) -> Any:
        return "cannot answer right now; try again"


def unavailable_response(exc: BaseException | None = None) -> JSONResponse:
    """The 503 for a server this service depends on being away (MongoDB, Kafka, S3, Typesense,
    another service): a problem with `Retry-After`, never the driver's message (it names hosts)."""
    response = problem_response(503, Unavailable.problem, Unavailable.title, Unavailable.detail(Unavailable()))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def problem_response(
    status: int, problem: str, title: str, detail: Any, extra: dict[str, Any] | None = None
) -> JSONResponse:
    """An `application/problem+json` answer; `extra` members never replace the standard four."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_PREFIX + problem, "title": title, "status": status, "detail": detail}
    for name, value in (extra or {}).items():
        body.setdefault(name, value)
    return JSONResponse(status_code=status, content=body, media_type=PROBLEM_JSON)


_HTTP_PROBLEMS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
}


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def install_error_handlers(app: FastAPI) -> None:
    """Every error answered as a problem: domain errors; a 422 with readable messages (and
    `errors`) for bad input; Starlette's and the auth dependencies' HTTP errors; a 503 with
    `Retry-After` when a server it depends on is away (`docstore_messaging.outages`: MongoDB,
    Kafka, S3, Typesense or another service not answering); a 500 with no internals for bugs."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        if exc.status >= 500:
            # The answer hides the message, so the log keeps it for operators.
            log.warning("domain_error", path=request.url.path, problem=exc.problem, error=str(exc))
        response = problem_response(exc.status, exc.problem, exc.title, exc.detail(), exc.extra())
        if exc.status == 503:
            response.headers.setdefault("Retry-After", str(getattr(exc, "retry_after", RETRY_AFTER_SECONDS)))
        elif exc.status == 429 and hasattr(exc, "retry_after"):
            # A limit that says when it lifts (e.g. metadata's people lookups).
            response.headers.setdefault("Retry-After", str(exc.retry_after))
        return response

    async def outage(request: Request, exc: Exception) -> JSONResponse:
        # The server comes back by itself (or the platform restarts it): a client should retry.
        log.warning("dependency_unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:300])
        return unavailable_response(exc)

    for outage_class in OUTAGE_CLASSES:
        # Registered by class, these are answered inside the app (no traceback logged as a 500).
        app.add_exception_handler(outage_class, outage)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return problem_response(
            422,
            Invalid.problem,
            Invalid.title,
            "; ".join(_describe(e) for e in errors),
            {"errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]},
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own refusals (no such path, wrong method) and the auth dependencies' 401/403.
        name = _HTTP_PROBLEMS.get(exc.status_code, f"http-{exc.status_code}")
        response = problem_response(exc.status_code, name, HTTPStatus(exc.status_code).phrase, exc.detail)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_outage(exc):  # raised from a driver's error (`raise ... from`), or a retriable one
            return await outage(request, exc)
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(500, "internal", "Internal error", "internal error")

"""The shared error handler: domain errors answered as RFC 9457 problems, `detail` as clients
have always read it, and never a stack trace."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import httpx
import pymongo.errors
import pytest
from aiokafka import errors as kafka_errors
from fastapi import FastAPI

from docstore_kit import errors
from docstore_kit.errors import PROBLEM_JSON, install_error_handlers
from docstore_messaging.outages import is_outage


class NoRoom(errors.TooLarge):
    problem = "no-room"
    title = "Not enough room"


class Stale(errors.Conflict):
    problem = "stale"
    title = "Stale"

    def __init__(self, current: int) -> None:
        super().__init__(f"at version {current}")
        self.current = current

    def detail(self) -> dict[str, Any]:
        return {"message": str(self), "current_version": self.current}

    def extra(self) -> dict[str, Any]:
        # `status` must not be replaceable by an extra member.
        return {"current_version": self.current, "status": 200}


class Backend(errors.Unavailable):
    problem = "backend-down"


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def answer(error: Exception) -> httpx.Response:
    # raise_app_exceptions=False: Starlette re-raises an unhandled exception after answering 500,
    # as a server would log it; the test reads the answer the client got.
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    ("error", "status", "problem", "title"),
    [
        (errors.Invalid("name: must not be empty"), 422, "invalid", "Invalid request"),
        (errors.Forbidden("not yours"), 403, "forbidden", "Forbidden"),
        (errors.NotFound("no such thing"), 404, "not-found", "Not found"),
        (errors.Conflict("already there"), 409, "conflict", "Conflict"),
        (NoRoom("not enough storage: 10 bytes needed"), 413, "no-room", "Not enough room"),
    ],
)
async def test_a_domain_error_is_a_problem_with_its_status_and_message(
    error: errors.DomainError, status: int, problem: str, title: str
) -> None:
    response = await answer(error)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": f"urn:docstore:problem:{problem}",
        "title": title,
        "status": status,
        "detail": str(error),
    }


async def test_a_structured_detail_is_kept_and_extra_members_are_added() -> None:
    response = await answer(Stale(3))
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == {"message": "at version 3", "current_version": 3}
    assert body["current_version"] == 3
    assert body["status"] == 409  # the standard members win over extra ones
    assert body["type"] == "urn:docstore:problem:stale"


async def test_a_server_side_domain_error_hides_its_message() -> None:
    response = await answer(Backend("connect to quota:8084 refused"))
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "quota:8084" not in response.text
    assert response.json()["detail"] == "cannot answer right now; try again"


async def test_a_bare_domain_error_is_a_generic_500() -> None:
    response = await answer(errors.DomainError("secret internals"))
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["detail"] == "Internal error"


async def test_an_unexpected_exception_is_a_500_without_internals() -> None:
    response = await answer(RuntimeError("password=hunter2 in /srv/app/module.py"))
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "urn:docstore:problem:internal",
        "title": "Internal error",
        "status": 500,
        "detail": "internal error",
    }
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_a_domain_error_subclass_can_still_be_caught_as_what_it_was() -> None:
    class Refused(errors.Invalid, ValueError):
        pass

    with pytest.raises(ValueError):
        raise Refused("no")
    response = await answer(Refused("no"))
    assert (response.status_code, response.json()["detail"]) == (422, "no")


def _client_error(status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


def _wrapped() -> Exception:
    try:
        raise pymongo.errors.AutoReconnect("db-0:27017: connection closed")
    except pymongo.errors.AutoReconnect as cause:
        error = RuntimeError("listing failed")
        error.__cause__ = cause
        return error


@pytest.mark.parametrize(
    "error",
    [
        pymongo.errors.ServerSelectionTimeoutError("localhost:27017: [Errno 111] Connection refused"),
        pymongo.errors.AutoReconnect("localhost:27017: connection closed"),
        pymongo.errors.NetworkTimeout("localhost:27017: timed out"),
        pymongo.errors.ConnectionFailure("localhost:27017"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://localhost:8333/bucket"),
        botocore.exceptions.ConnectTimeoutError(endpoint_url="http://localhost:8333/bucket"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://localhost:8333/bucket"),
        _client_error(503),
        kafka_errors.KafkaConnectionError("localhost:9092"),
        kafka_errors.KafkaTimeoutError(),
        httpx.ConnectError("connection refused to typesense:8108"),
        httpx.ReadTimeout("typesense:8108"),
        ConnectionRefusedError(111, "Connection refused"),
        _wrapped(),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_dependency_that_does_not_answer_is_a_503_with_retry_after(error: Exception) -> None:
    assert is_outage(error)
    response = await answer(error)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == str(errors.RETRY_AFTER_SECONDS)
    assert response.json() == {
        "type": "urn:docstore:problem:unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "cannot answer right now; try again",
    }
    assert "27017" not in response.text and "8333" not in response.text and "8108" not in response.text


async def test_a_service_own_unavailable_error_has_retry_after_too() -> None:
    response = await answer(Backend("quota did not answer"))
    assert (response.status_code, response.headers["retry-after"]) == (503, str(errors.RETRY_AFTER_SECONDS))


@pytest.mark.parametrize(
    "error",
    [
        pymongo.errors.DuplicateKeyError("E11000 duplicate key"),
        pymongo.errors.OperationFailure("bad query", code=2),
        _client_error(404),
        ValueError("not an outage"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_an_error_of_the_request_is_not_taken_for_an_outage(error: Exception) -> None:
    assert not is_outage(error)
    assert (await answer(error)).status_code == 500


def test_an_error_raised_while_handling_an_outage_is_not_one_unless_raised_from_it() -> None:
    try:
        try:
            raise pymongo.errors.AutoReconnect("down")
        except pymongo.errors.AutoReconnect:
            raise errors.Conflict("already there")  # noqa: B904 - the refusal is deliberate
    except errors.Conflict as refusal:
        assert not is_outage(refusal)

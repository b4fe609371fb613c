"""Which errors mean "a server we depend on is away", as opposed to "this request or event is wrong".

An outage of MongoDB, Kafka, S3 or Typesense is temporary and says nothing about the request
or the event being handled: an HTTP API answers it with 503 and `Retry-After`
(`docstore_kit.errors`), a consumer waits and tries the same event again instead of sending it
to its dead-letter topic (`consumer`, `batches`: a dead letter for an outage would lose the
event's effect), and a service starting while its servers are away waits for them
(`docstore_kit.app.ServiceRuntime`).

`is_outage` looks at the error and the errors it was raised from (`raise ... from`), so a
service's own wrapper of a driver error is recognised too, and at an `outage = True` class
attribute (a service's own "quota did not answer"). The drivers' classes are imported
here, once; the ones a process does not have installed are simply not matched.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import pymongo.errors
from aiokafka import errors as kafka_errors


def _optional_classes() -> tuple[type[Exception], ...]:
    found: list[type[Exception]] = []
    try:
        from botocore import exceptions as botocore_errors  # S3 (boto3): connection refused, timeouts

        found += [botocore_errors.ConnectionError, botocore_errors.HTTPClientError]
    except ImportError:  # pragma: no cover - every service has boto3; a bare library use may not
        pass
    try:
        import httpx  # calls between services, Typesense

        found += [httpx.TransportError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import aiohttp  # Typesense's and other HTTP clients built on aiohttp

        found += [aiohttp.ClientConnectionError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


OUTAGE_CLASSES: tuple[type[Exception], ...] = (
    # ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout, WaitQueueTimeoutError...
    pymongo.errors.ConnectionFailure,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    builtins.ConnectionError,  # refused, reset, aborted: OSErrors of a socket
    builtins.TimeoutError,
    *_optional_classes(),
)
"""Errors that, wherever they come from, mean a server did not answer."""

_OUTAGE_STATUSES = frozenset({502, 503, 504})
"""HTTP statuses of an S3 `ClientError` that say the server is away or overloaded (`SlowDown`)."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # Only what it was raised *from*: an error raised while handling an outage (its
        # `__context__`) may be a deliberate refusal of its own.
        current = current.__cause__


def _is_one(error: BaseException) -> bool:
    if getattr(error, "outage", False) is True:
        return True  # a service's own "X did not answer" (docstore_kit.errors.Unavailable)
    if isinstance(error, OUTAGE_CLASSES):
        return True
    if isinstance(error, kafka_errors.KafkaError) and getattr(error, "retriable", False):
        return True  # aiokafka marks what a retry can cure (leader moved, coordinator loading...)
    if isinstance(error, pymongo.errors.PyMongoError) and (
        error.has_error_label("RetryableWriteError") or error.has_error_label("TransientTransactionError")
    ):
        return True  # a primary stepping down, an election: the next attempt finds the new one
    response = getattr(error, "response", None)  # botocore's ClientError
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status in _OUTAGE_STATUSES
    return False


def is_outage(error: BaseException) -> bool:
    """True when `error`, or an error it was raised from, says a server we depend on is away."""
    return any(_is_one(link) for link in _chain(error))

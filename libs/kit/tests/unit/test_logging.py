"""Every log line is one JSON object with the service, region, level, event and timestamp (and
the trace while a span is current): structlog's own events, uvicorn's access and error lines,
FastStream's, warnings; tracebacks are a field; secrets stay masked and signed links redacted;
`LOG_FORMAT=console` gives readable lines."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from docstore_kit.observability import configure_logging

REQUIRED = {"service", "region", "level", "event", "timestamp"}


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """What the root handler writes, once `configure_logging` has run; logging restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)
    structlog.reset_defaults()
    logging.captureWarnings(False)


def configure(stream: io.StringIO, log_format: str = "json") -> None:
    configure_logging("quota", region="ap-southeast-2", log_format=log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    parsed = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    for line in parsed:
        assert REQUIRED <= set(line), line
        assert line["service"] == "quota" and line["region"] == "ap-southeast-2"
    return parsed


def test_structlog_events_carry_service_region_and_the_current_trace(output: io.StringIO) -> None:
    configure(output)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        structlog.get_logger("docstore_quota.test").info("usage_recorded", account_id="a1", password="hunter2")
    structlog.get_logger("docstore_quota.test").warning("outside_a_span")
    inside, outside = lines(output)
    context = span.get_span_context()
    assert inside["event"] == "usage_recorded" and inside["level"] == "info" and inside["account_id"] == "a1"
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert inside["password"] == "***"
    assert "trace_id" not in outside and outside["level"] == "warning"
    assert trace.get_current_span().get_span_context().is_valid is False


def test_uvicorn_access_and_error_lines_are_json_and_redacted(output: io.StringIO) -> None:
    # As uvicorn's own log config leaves them: handlers of their own, not propagating.
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.StreamHandler(io.StringIO()))
    access.propagate = False
    configure(output)
    # The exact calls uvicorn makes.
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/v1/uploads/u/done/SIG?key=KEY", "1.1", 200)
    started, request = lines(output)
    assert started["event"] == "Started server process [4242]" and started["logger"] == "uvicorn.error"
    assert request["event"] == "http_request"
    assert request["method"] == "GET" and request["status"] == 200 and request["client"] == "127.0.0.1:5000"
    assert request["path"] == "/v1/uploads/u/done/[redacted]?[redacted]"
    assert "SIG" not in output.getvalue() and "KEY" not in output.getvalue()
    assert access.propagate and not access.handlers


def test_successful_probes_and_scrapes_write_no_access_line(output: io.StringIO) -> None:
    configure(output)
    configure(output)  # idempotent: one filter
    access = logging.getLogger("uvicorn.access")
    for path, status in (("/healthz", 200), ("/metrics", 200), ("/readyz", 503), ("/v1/documents", 200)):
        access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:1", "GET", path, "1.1", status)
    assert [(line["path"], line["status"]) for line in lines(output)] == [("/readyz", 503), ("/v1/documents", 200)]


def test_log_level_reaches_uvicorns_loggers(output: io.StringIO) -> None:
    # uvicorn's log config sets its loggers to INFO before the app factory configures logging.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.INFO)
    configure_logging("quota", region="ap-southeast-2", log_format="json", level="WARNING")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:1", "GET", "/v1/search", "1.1", 200)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    logging.getLogger("uvicorn.error").warning("something to see")
    assert [line["event"] for line in lines(output)] == ["something to see"]
    assert not access.isEnabledFor(logging.INFO)


def _fail_holding_a_secret() -> None:
    password = "hunter2-in-a-local"  # noqa: F841 (what a traceback's frame would show)
    raise ValueError("broken\nacross lines")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_traceback_never_shows_a_frames_locals(output: io.StringIO, log_format: str) -> None:
    """structlog renders each frame's locals by default, past `mask_secrets`: a password, a token,
    the start of a user's file would reach the line."""
    configure(output, log_format=log_format)
    try:
        _fail_holding_a_secret()
    except ValueError:
        structlog.get_logger("docstore_quota.test").exception("handler_crashed")
    text = output.getvalue()
    assert "_fail_holding_a_secret" in text  # the frame is there
    assert "hunter2" not in text and "password" not in text


def test_a_traceback_is_a_field_not_extra_lines(output: io.StringIO) -> None:
    configure(output)
    try:
        _fail_holding_a_secret()
    except ValueError:
        structlog.get_logger("docstore_quota.test").exception("handler_crashed")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=True)
    ours, theirs = lines(output)
    for line in (ours, theirs):
        assert line["level"] == "error"
        [exception] = line["exception"]
        assert exception["exc_type"] == "ValueError" and exception["exc_value"] == "broken\nacross lines"
        assert exception["frames"]


def test_faststream_and_warnings_go_through_the_same_lines(output: io.StringIO) -> None:
    import faststream  # noqa: F401  (its module-level logger comes with a colourized stdout handler)

    configure(output)
    logging.getLogger("faststream").warning("subscriber lagging")
    logging.getLogger("docstore_events.kafka").info("Received")
    warnings.warn("an old API", DeprecationWarning, stacklevel=1)
    parsed = lines(output)
    assert [line["event"] for line in parsed[:2]] == ["subscriber lagging", "Received"]
    assert "an old API" in parsed[2]["event"] and parsed[2]["logger"] == "py.warnings"
    assert "\x1b[" not in output.getvalue()  # no ANSI colour codes


def test_console_format_stays_readable(output: io.StringIO) -> None:
    configure(output, log_format="console")
    structlog.get_logger("docstore_quota.test").info("usage_recorded", account_id="a1")
    text = output.getvalue()
    assert "usage_recorded" in text and "account_id" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])

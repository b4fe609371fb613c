"""Signed links stay out of logs: uvicorn's access log, and structlog lines carrying a path
(docstore_kit.observability)."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from docstore_kit.observability import RedactSignedPaths, install_path_redaction, redact_paths, redact_signed_paths

SIG, TOKEN, KEY = (
    "9f86d081884c7d659a2feaa0c55ad015",
    "Xy_Z-0123456789abcdefghijklmnopqrstuvwxyzAB",
    "us-west-2/acc/doc/up",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/v1/uploads/u-1/done/{SIG}", "/v1/uploads/u-1/done/[redacted]"),
        (f"/uploads/u-1/done/{SIG}?key={KEY}&etag=x", "/uploads/u-1/done/[redacted]?[redacted]"),
        (f"/v1/notifications/unsubscribe/{TOKEN}", "/v1/notifications/unsubscribe/[redacted]"),
        (f"/notifications/unsubscribe/{TOKEN}?x=1", "/notifications/unsubscribe/[redacted]?[redacted]"),
        (
            f'127.0.0.1:5000 - "GET /v1/uploads/u/done/{SIG}?key={KEY} HTTP/1.1" 200',
            '127.0.0.1:5000 - "GET /v1/uploads/u/done/[redacted]?[redacted] HTTP/1.1" 200',
        ),
        (
            "https://docstore.example/v1/notifications/unsubscribe/abc",
            "https://docstore.example/v1/notifications/unsubscribe/[redacted]",
        ),
        ("/v1/uploads/u-1", "/v1/uploads/u-1"),
        ("/v1/notifications/preferences", "/v1/notifications/preferences"),
        ("/v1/documents?done=1", "/v1/documents?done=1"),
        ("no path at all", "no path at all"),
    ],
)
def test_the_secret_segment_and_query_are_replaced(text: str, expected: str) -> None:
    assert redact_signed_paths(text) == expected


def test_uvicorns_access_log_line_carries_no_signed_link() -> None:
    logger = logging.getLogger("uvicorn.access.test-redaction")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    logger.addHandler(handler)
    logger.addFilter(RedactSignedPaths())
    logger.propagate = False
    logger.setLevel(logging.INFO)
    # The exact call uvicorn's protocol makes for each request.
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/uploads/u/done/{SIG}?key={KEY}", "1.1", 200)
    logger.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", f"/v1/notifications/unsubscribe/{TOKEN}", "1.1", 200
    )
    logged = stream.getvalue()
    assert SIG not in logged and KEY not in logged and TOKEN not in logged
    assert "GET /v1/uploads/u/done/[redacted]?[redacted] HTTP/1.1" in logged
    assert "POST /v1/notifications/unsubscribe/[redacted] HTTP/1.1" in logged


def test_the_filter_goes_on_uvicorns_loggers_once() -> None:
    install_path_redaction()
    install_path_redaction()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactSignedPaths) for f in access.filters) == 1


def test_structlog_values_are_redacted() -> None:
    event = redact_paths(
        None,
        "info",
        {"event": f"GET /v1/uploads/u/done/{SIG}", "path": f"/notifications/unsubscribe/{TOKEN}", "status": 200},
    )
    assert event == {
        "event": "GET /v1/uploads/u/done/[redacted]",
        "path": "/notifications/unsubscribe/[redacted]",
        "status": 200,
    }

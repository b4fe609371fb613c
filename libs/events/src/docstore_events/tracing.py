"""W3C trace context in event headers."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context

tracer = trace.get_tracer("docstore_events")


def current_traceparent() -> str | None:
    """The `traceparent` of the active span, to store with an event written now."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from_headers(headers: dict[str, str]) -> Context:
    """The trace context a consumed message carries, so its handling joins that trace."""
    return propagate.extract({k: v for k, v in headers.items() if k in ("traceparent", "tracestate")})

"""W3C trace context in events: one trace from an HTTP request across every event it causes.

How a trace travels:

* An event is stamped with the `traceparent` current when it is *emitted* (`Transaction.emit`),
  stored with its outbox row, and sent in the Kafka headers by the relay, which wraps the send
  in a `<topic> publish` span (so the header names that span, child of the emitter's).
* A consumer handles each event in a `<topic> process` span continuing the event's trace
  (`consumer.subscribe`). A batch (`batches.BatchConsumer`) gets one `process` span of its
  own, linked to every event's trace, and inside it one span per event that continues that
  event's trace; `handling(event_id)` makes the event's span current, so what a batch handler
  emits for one event joins that event's trace, not the batch's.
* A background loop (watcher, sweeper, reconciliation, indexing worker) starts a span for
  each round that does work (`loop_span`), or continues the trace the row it works on was
  stamped with (`continue_trace`).
* An event emitted with no span current at all still gets a trace of its own
  (`ensure_traceparent`): no event leaves without a `traceparent`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind

tracer = trace.get_tracer("docstore_events")

_event_contexts: ContextVar[Mapping[str, Context] | None] = ContextVar("docstore_event_contexts", default=None)
"""Inside a batch: event id → the context of that event's own handling span."""


def current_traceparent() -> str | None:
    """The `traceparent` of the active span, to store with an event written now."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


async def propagate_to_request(request: Any) -> None:
    """An httpx `request` event hook: the call carries the current `traceparent`, so the service
    it reaches continues this trace (`event_hooks={"request": [propagate_to_request]}`)."""
    propagate.inject(request.headers)


def context_from_headers(headers: Mapping[str, str]) -> Context:
    """The trace context a consumed message carries, so its handling joins that trace."""
    return propagate.extract({k: v for k, v in headers.items() if k in ("traceparent", "tracestate")})


def context_from_traceparent(traceparent: str | None) -> Context:
    """The context a stored `traceparent` names (an empty one, so a new trace, if None)."""
    return context_from_headers({"traceparent": traceparent} if traceparent else {})


def link_to(traceparent: str | None) -> list[Link]:
    """A span link to the span `traceparent` names, or none when it names nothing valid."""
    span_context = trace.get_current_span(context_from_traceparent(traceparent)).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


@contextlib.contextmanager
def continue_trace(
    traceparent: str | None,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Link] | None = None,
) -> Iterator[Span]:
    """A current span named `name`, child of the span `traceparent` names (a new trace if None).

    For work done later on behalf of an earlier request or event: a row that stored the
    traceparent of the request that wrote it is picked up by a background loop."""
    with tracer.start_as_current_span(
        name,
        context=context_from_traceparent(traceparent),
        kind=kind,
        attributes=dict(attributes or {}),
        links=links,
    ) as span:
        yield span


@contextlib.contextmanager
def loop_span(name: str, *, links: Sequence[Link] | None = None, **attributes: Any) -> Iterator[Span]:
    """A new trace for one round of a background loop that does work (a sweep, a reconciliation).

    Start it only around a round that found something to do: idle polls would flood the
    trace store with empty traces."""
    with tracer.start_as_current_span(
        name, context=Context(), kind=SpanKind.INTERNAL, attributes=attributes, links=links
    ) as span:
        yield span


def ensure_traceparent(event_type: str) -> str | None:
    """The current `traceparent`; when no span is current, that of a new one-span trace
    (`<event_type> emit`), so the event starts a trace of its own instead of carrying none.
    (None only in a process with no tracer provider, such as a bare script: nothing traces.)"""
    traceparent = current_traceparent()
    if traceparent:
        return traceparent
    with tracer.start_as_current_span(f"{event_type} emit", context=Context(), kind=SpanKind.PRODUCER):
        return current_traceparent()


@contextlib.contextmanager
def event_contexts(contexts: Mapping[str, Context]) -> Iterator[None]:
    """Within this block, `handling(event_id)` makes the span of each event in `contexts` current
    (the batch consumer sets it around a batch handler)."""
    token = _event_contexts.set(contexts)
    try:
        yield
    finally:
        _event_contexts.reset(token)


@contextlib.contextmanager
def handling(event_id: str) -> Iterator[None]:
    """Make the handling span of consumed event `event_id` current, so events emitted for it
    (and logs) join its trace. Inside a batch handler that is the per-event span the batch
    consumer started; elsewhere (a one-at-a-time consumer, whose span already is the
    event's) nothing changes."""
    context = (_event_contexts.get() or {}).get(event_id)
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def traceparent_for(event_id: str) -> str | None:
    """The `traceparent` of consumed event `event_id`'s handling span (the current one outside a
    batch): to store with a row that a background loop later works on for that event."""
    with handling(event_id):
        return current_traceparent()

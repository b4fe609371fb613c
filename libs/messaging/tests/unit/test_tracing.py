"""Every event carries a traceparent, and each event of a batch is handled in its own trace."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from docstore_events import Envelope, QuotaExceeded
from docstore_events.envelope import decode, encode
from docstore_messaging.batches import BatchConsumer, _Delivery
from docstore_messaging.outbox import Outbox
from docstore_messaging.tracing import current_traceparent, handling, loop_span, traceparent_for
from docstore_messaging.unit_of_work import Transaction


def exceeded(account_id: str = "acct") -> QuotaExceeded:
    return QuotaExceeded(account_id=account_id, used_bytes=2, cap_bytes=1, plan="free")


def trace_id(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[1]


def test_an_event_emitted_with_no_span_current_starts_a_trace_of_its_own(spans: InMemorySpanExporter) -> None:
    assert current_traceparent() is None  # a background loop outside any span
    outbox = Outbox(_FakeDb(), source="/test")  # type: ignore[arg-type]
    row = outbox._row(exceeded(), None)
    assert row["headers"]["traceparent"].startswith("00-")
    assert any(span.name == "docstore.quota.exceeded emit" for span in spans.get_finished_spans())


def test_emit_keeps_the_trace_current_when_it_is_called(spans: InMemorySpanExporter) -> None:
    tx: Transaction[None] = Transaction(None)
    with loop_span("a round") as round_span:
        tx.emit(exceeded())
    tx.emit(exceeded("other"))  # outside: nothing current, the outbox gives it a trace later
    (_, _, inside), (_, _, outside) = tx.events
    assert trace_id(inside) == format(round_span.get_span_context().trace_id, "032x")
    assert outside is None


async def test_each_event_of_a_batch_is_handled_in_its_own_trace(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")
    deliveries = []
    for account in ("a", "b"):
        with tracer.start_as_current_span(f"request {account}"):
            record = encode(exceeded(account), source="/test", traceparent=current_traceparent())
        deliveries.append(
            _Delivery(SimpleNamespace(topic=record.topic), record.headers, decode(record.headers, record.value))
        )
    seen: dict[str, tuple[str | None, str | None]] = {}

    async def handler(envelopes: list[Envelope[Any]]) -> None:
        for envelope in envelopes:
            with handling(envelope.id):
                seen[envelope.id] = (current_traceparent(), traceparent_for(envelope.id))

    consumer = BatchConsumer.__new__(BatchConsumer)  # no Kafka: only the span handling runs
    consumer.consumer_name = "test"
    await consumer._call(handler, deliveries)  # type: ignore[arg-type]

    for delivery in deliveries:
        current, stored = seen[delivery.item.id]
        assert trace_id(current) == trace_id(delivery.item.traceparent) == trace_id(stored)
    finished = spans.get_finished_spans()
    batch = [s for s in finished if (s.attributes or {}).get("messaging.batch.message_count") == 2]
    assert batch and len(batch[0].links) == 2  # the batch's own span links to both traces
    # One consumer span per event, the child of that event's producer span.
    for delivery in deliveries:
        parent = delivery.item.traceparent.split("-")[2]
        per_event = [s for s in finished if s.parent and format(s.parent.span_id, "016x") == parent]
        assert [s.kind for s in per_event] == [trace.SpanKind.CONSUMER]


class _FakeDb:
    def __getitem__(self, name: str) -> None:
        return None

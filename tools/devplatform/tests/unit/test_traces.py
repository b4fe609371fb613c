"""The local OTLP receiver takes what the OpenTelemetry SDK exports, and prints it as a tree."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from docstore_devplatform.cli import main
from docstore_devplatform.traces import TraceReceiver, latest_traces, read_spans, render_trace, spans_of_trace


def provider(service: str, endpoint: str) -> TracerProvider:
    made = TracerProvider(resource=Resource.create({"service.name": service}))
    made.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    return made


def test_spans_exported_by_two_services_come_back_as_one_tree(tmp_path: Path, capsys) -> None:
    receiver = TraceReceiver(tmp_path / "logs" / "traces.jsonl").start()
    try:
        gateway, quota = provider("gateway", receiver.endpoint), provider("quota", receiver.endpoint)
        with gateway.get_tracer("t").start_as_current_span("POST /v1/uploads", kind=SpanKind.SERVER) as root:
            with gateway.get_tracer("t").start_as_current_span("upload.completed publish", kind=SpanKind.PRODUCER):
                # Across the "broker": quota's span is a child of the producer span, in another provider.
                with quota.get_tracer("t").start_as_current_span("upload.completed process", kind=SpanKind.CONSUMER):
                    pass
        gateway.shutdown()
        quota.shutdown()
    finally:
        receiver.stop()

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = spans_of_trace(read_spans(receiver.path), trace_id)
    assert sorted((s["service"], s["kind"]) for s in spans) == [
        ("gateway", "producer"),
        ("gateway", "server"),
        ("quota", "consumer"),
    ]
    tree = render_trace(spans).splitlines()
    assert tree[1].startswith("  gateway: POST /v1/uploads")
    assert tree[2].startswith("    gateway: upload.completed publish")
    assert tree[3].startswith("      quota: upload.completed process")
    assert latest_traces(read_spans(receiver.path))[0]["services"] == ["gateway", "quota"]

    assert main(["trace", trace_id, "--file", str(receiver.path)]) == 0
    assert "quota: upload.completed process" in capsys.readouterr().out
    assert main(["trace", "0" * 32, "--file", str(receiver.path)]) == 1
    assert main(["trace", "--file", str(receiver.path)]) == 0
    assert trace_id in capsys.readouterr().out


def test_a_span_whose_parent_has_not_arrived_is_shown_not_lost() -> None:
    span = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "parent_span_id": "c" * 16,
        "name": "file.modified process",
        "kind": "consumer",
        "service": "notify",
        "start_ns": 1,
        "end_ns": 2_000_001,
        "duration_ms": 2.0,
        "status": "unset",
        "links": [],
    }
    assert "notify: file.modified process  2.0 ms  +0.0 ms  (parent missing)" in render_trace([span])

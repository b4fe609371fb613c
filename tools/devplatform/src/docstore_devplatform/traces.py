"""Local traces: an OTLP/HTTP receiver that writes spans as JSON lines, and trees of them.

Every service exports its spans over OTLP/HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`, the SDK's
BatchSpanProcessor) to :class:`TraceReceiver`, a tiny HTTP server on loopback that decodes each
``ExportTraceServiceRequest`` with `opentelemetry-proto` and appends one JSON object per span to
a file (``<data-dir>/logs/traces.jsonl`` under ``scripts/up``). Nothing to install, nothing
kept in memory: ``python -m docstore_devplatform trace [trace_id]`` reads the file back and
prints a trace as a tree (:func:`render_trace`), or the latest traces without an id.

A span line: ``trace_id``, ``span_id``, ``parent_span_id`` (hex, "" for a root), ``name``,
``kind``, ``service``, ``start_ns``, ``end_ns``, ``duration_ms``, ``status``, ``attributes``
and ``links`` (``[{trace_id, span_id}]``).
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from docstore_devplatform.ports import HOST

TRACES_FILE = "traces.jsonl"
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {0: "unset", 1: "ok", 2: "error"}


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which) if which else None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def spans_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """The spans of one OTLP export request, as the JSON objects the receiver writes."""
    spans: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": _KINDS.get(span.kind, str(span.kind)),
                        "service": resource.get("service.name", "?"),
                        "region": resource.get("cloud.region", ""),
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "duration_ms": round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 3),
                        "status": _STATUS.get(span.status.code, str(span.status.code)),
                        "attributes": _attributes(span.attributes),
                        "links": [
                            {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()} for link in span.links
                        ],
                    }
                )
    return spans


class _QuietServer(ThreadingHTTPServer):
    """A sender that hung up before its answer (its spans are already written) is not an error.

    http.server prints such a connection error's traceback from the request's thread; on
    Python 3.11 printing a traceback parses source (`ast`), and a parse in a second thread while
    pytest formats a failure in the main one can trip CPython's shared AST recursion counter
    ("AST constructor recursion depth mismatch", python/cpython#106905). One such traceback,
    printed here, came just before that error ended a whole pytest-xdist worker (2026-11-26).
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class TraceReceiver:
    """An OTLP/HTTP trace receiver on loopback (``POST /v1/traces``, protobuf or JSON), appending
    every span it receives to `path` as a JSON line. ``start`` serves from a daemon thread."""

    def __init__(self, path: Path, *, port: int = 0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                try:
                    if self.headers.get("Content-Type", "").startswith("application/json"):
                        json_format.Parse(body, request)
                    else:
                        request.ParseFromString(body)
                except Exception as error:  # noqa: BLE001 - a malformed export is the sender's problem
                    self.send_error(400, f"not an ExportTraceServiceRequest: {error}")
                    return
                receiver.write(spans_of(request))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: one line per export
                pass

        self._server = _QuietServer((HOST, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter adds ``/v1/traces``)."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    def write(self, spans: list[dict[str, Any]]) -> None:
        """Append `spans` to the file, one JSON object a line (whole lines: one writer at a time)."""
        if not spans:
            return
        lines = "".join(json.dumps(span, separators=(",", ":")) + "\n" for span in spans)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(lines)

    def start(self) -> TraceReceiver:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)


def read_spans(path: Path, *, offset: int = 0) -> list[dict[str, Any]]:
    """Every span in a traces file from byte `offset` on (a line cut short by a writer in
    progress is skipped). A test passes the file's size when it began, to read only its own."""
    spans: list[dict[str, Any]] = []
    try:
        with Path(path).open("rb") as source:
            source.seek(offset)
            text = source.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return spans
    for line in text.splitlines():
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue
    return spans


def spans_of_trace(spans: Iterable[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    """The spans of one trace (the id as 32 hex digits)."""
    return [span for span in spans if span["trace_id"] == trace_id.lower()]


def latest_traces(spans: Iterable[dict[str, Any]], count: int = 10, *, min_spans: int = 1) -> list[dict[str, Any]]:
    """The `count` most recently started traces of at least `min_spans` spans, newest first:
    trace id, start, span count, services and the root span's name."""
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    summaries = []
    for trace_id, members in by_trace.items():
        if len(members) < min_spans:
            continue
        ids = {span["span_id"] for span in members}
        roots = [span for span in members if span["parent_span_id"] not in ids] or members
        root = min(roots, key=lambda span: span["start_ns"])
        summaries.append(
            {
                "trace_id": trace_id,
                "start_ns": min(span["start_ns"] for span in members),
                "spans": len(members),
                "services": sorted({span["service"] for span in members}),
                "root": f"{root['service']}: {root['name']}",
            }
        )
    return sorted(summaries, key=lambda summary: summary["start_ns"], reverse=True)[:count]


def _walk(span: dict[str, Any], children: dict[str, list[dict[str, Any]]], depth: int, start_ns: int) -> Iterator[str]:
    offset_ms = (span["start_ns"] - start_ns) / 1e6
    status = " ERROR" if span.get("status") == "error" else ""
    links = f"  (links {len(span['links'])})" if span.get("links") else ""
    yield (
        f"{'  ' * depth}{span['service']}: {span['name']}  "
        f"{span['duration_ms']:.1f} ms  +{offset_ms:.1f} ms{status}{links}"
    )
    for child in sorted(children.get(span["span_id"], []), key=lambda child: child["start_ns"]):
        yield from _walk(child, children, depth + 1, start_ns)


def _asgi_internal(span: dict[str, Any]) -> bool:
    """The ASGI instrumentation's per-message spans (``... http send``/``http receive``): noise in a tree."""
    return span["name"].endswith((" http send", " http receive"))


def render_trace(spans: Iterable[dict[str, Any]], *, everything: bool = False) -> str:
    """One trace as a tree, children under their parent by start time: service, span name,
    duration and start offset. A span whose parent never arrived (not exported yet, or in a
    process without an exporter) is shown as a root, marked ``(parent missing)``. The ASGI
    ``http send``/``http receive`` spans are left out unless `everything`."""
    members = [span for span in spans if everything or not _asgi_internal(span)]
    if not members:
        return "(no spans)"
    ids = {span["span_id"] for span in members}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    roots = []
    for span in members:
        if span["parent_span_id"] and span["parent_span_id"] in ids:
            children[span["parent_span_id"]].append(span)
        else:
            roots.append(span)
    start_ns = min(span["start_ns"] for span in members)
    lines = [f"trace {members[0]['trace_id']}: {len(members)} spans, {len({s['service'] for s in members})} services"]
    for root in sorted(roots, key=lambda span: span["start_ns"]):
        tree = list(_walk(root, children, 1, start_ns))
        if root["parent_span_id"]:
            tree[0] += "  (parent missing)"
        lines += tree
    return "\n".join(lines)


#: The standard OTLP/HTTP port, used by ``scripts/up`` (fixed ports) when it is free.
OTLP_HTTP_PORT = 4318


def otlp_port(ports: str) -> int:
    """The receiver's port: 4318 for fixed ports when free, else any free one (0)."""
    from docstore_devplatform.ports import is_port_free

    return OTLP_HTTP_PORT if ports == "fixed" and is_port_free(OTLP_HTTP_PORT) else 0


def otlp_env(endpoint: str, *, schedule_delay_ms: int = 1000) -> dict[str, str]:
    """The variables that make a service export its spans to `endpoint`, batched every
    `schedule_delay_ms` (the SDK's default, 5 s, is long to wait for at a terminal or in a test)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": str(schedule_delay_ms)}

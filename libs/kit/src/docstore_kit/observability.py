"""Logging and tracing for a service, set up by one call.

Every line a service writes is one JSON object (`LOG_FORMAT=console`, or `auto` on a terminal:
readable lines) with `service`, `region`, `level`, `event`, `timestamp`, `logger`, and `trace_id`
and `span_id` while a span is current. structlog renders its own events and, through the root
handler, every standard-library logger's: uvicorn's (access lines become `http_request` with
method, path, status and client), FastStream's, asyncio's, warnings. A traceback is a field
(`exception`, a list of frames), never extra lines. Secrets are masked by key and signed links
redacted. OpenTelemetry exports over OTLP/HTTP when an endpoint is configured. Metrics:
`docstore_kit.health.install_metrics`.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from structlog.tracebacks import ExceptionDictTransformer

SENSITIVE_KEYS = ("password", "secret", "token", "authorization", "cookie", "hash", "credential")


def mask_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: never let a value whose key names a secret reach a log line."""
    for key in list(event_dict):
        if any(word in key.lower() for word in SENSITIVE_KEYS):
            event_dict[key] = "***"
    return event_dict


_SIGNED_PATH = re.compile(
    r"(/(?:v1/)?(?:uploads/[^/?#\s\"']+/done|notifications/unsubscribe|s)/)[^/?#\s\"']+(\?[^#\s\"']*)?"
)
"""The secret segment of `/uploads/{id}/done/{signature}`, `/notifications/unsubscribe/{token}` and a
public share link's page `/s/{token}` (any `/s/<segment>`: over-redacting a path costs nothing)."""
REDACTED = "[redacted]"


def redact_signed_paths(text: str) -> str:
    """`text` with the secret of every signed link replaced: `/uploads/{id}/done/{signature}`,
    `/notifications/unsubscribe/{token}` (with or without `/v1`) and `/s/{token}` (share links), and
    their query strings (S3 adds the object key to the upload landing page's), become
    `.../[redacted]?[redacted]`."""

    def redact(match: re.Match[str]) -> str:
        return match.group(1) + REDACTED + ("?" + REDACTED if match.group(2) else "")

    return _SIGNED_PATH.sub(redact, text) if "/" in text else text


class RedactSignedPaths(logging.Filter):
    """A logging filter that redacts signed links in a record's message and arguments (uvicorn's
    access log passes the path with its query string as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_signed_paths(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_signed_paths(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_signed_paths(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def redact_paths(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: no signed link in any string value (a `path`, a `url`, the event)."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_signed_paths(value)
    return event_dict


PATH_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")
"""Loggers that write request paths with handlers of their own (uvicorn's log config keeps
them off the root handler), so the filter goes on each of them too."""


def install_path_redaction() -> None:
    """Put RedactSignedPaths on uvicorn's loggers and on every root handler (idempotent)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in PATH_LOGGERS]
    targets += logging.getLogger().handlers
    for name in PATH_LOGGERS:
        targets += logging.getLogger(name).handlers
    for target in targets:
        if not any(isinstance(f, RedactSignedPaths) for f in target.filters):
            target.addFilter(RedactSignedPaths())


def add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's trace and span id, for joining logs to traces."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def static_fields(**fields: str) -> Any:
    """structlog processor: `fields` on every line (a line's own value wins). Not context
    variables: those bound in the lifespan's task never reach the tasks serving requests."""

    def add(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


def uvicorn_access_fields(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor for standard-library records: uvicorn's access line becomes the event
    `http_request` with `method`, `path`, `status`, `client` and `http_version` as fields; other
    records lose the positional arguments their message already holds."""
    args = event_dict.pop("positional_args", None)
    record = event_dict.get("_record")
    if record is not None and record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        event_dict.update(
            event="http_request", client=client, method=method, path=path, http_version=http_version, status=status
        )
    return event_dict


QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class QuietProbes(logging.Filter):
    """Drops uvicorn's access line of a probe or scrape that succeeded (`/healthz`, `/readyz`,
    `/metrics` below 400): kubelets and Prometheus call them every few seconds, and those lines
    would bury the requests. A failing probe is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path, status = args[2], args[4]
            return not (path in QUIET_PATHS and isinstance(status, int) and status < 400)
        return True


ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream")
"""Loggers that come with handlers of their own (uvicorn's log config; FastStream's colourized
stream handler): theirs are removed and their records go to the root handler, as JSON."""


def configure_logging(service: str, *, region: str = "", log_format: str = "auto", level: str = "INFO") -> None:
    """Route structlog and the standard library's logging through one JSON/console renderer.

    Idempotent; call it as early as possible in a process (the uvicorn factory does, so even
    uvicorn's "Started server process" line is JSON)."""
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        static_fields(service=service, region=region),
        mask_secrets,
        redact_paths,
    ]
    final: list[Any]
    if as_json:
        # A traceback is a field (`exception`: type, value and frames), so a line stays a line.
        # Without the frames' locals (structlog shows them by default): they hold what
        # `mask_secrets` never sees (a password, a token, the first bytes of a user's file),
        # and rendering them cost more than the work that failed.
        tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        final = [tracebacks, structlog.processors.JSONRenderer()]
    else:
        final = [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]  # no locals
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    pre_chain: list[Any] = [uvicorn_access_fields, *shared]
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre_chain,
            pass_foreign_args=True,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers.clear()
        routed.propagate = True
        # uvicorn's log config sets its loggers to INFO before the factory runs: without this,
        # `LOG_LEVEL=WARNING` still wrote (and paid for) an access line per request.
        routed.setLevel(logging.NOTSET)
    logging.captureWarnings(True)
    install_path_redaction()
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietProbes) for f in access.filters):
        access.addFilter(QuietProbes())
    for noisy in ("aiokafka", "pymongo", "botocore", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def configure_logging_from(settings: Any) -> None:
    """`configure_logging` for the service that `settings` describe. Each service's uvicorn
    factory calls it first: uvicorn writes its first line after the factory returns."""
    configure_logging(
        settings.service, region=settings.region, log_format=settings.log_format, level=settings.log_level
    )


def redact_span_attributes(span: Any, _scope: Any = None) -> None:
    """Replace signed links in a live span's string attributes and name (also FastAPI's
    `server_request_hook`: the ASGI instrumentation sets the request's path and URL again after the
    span started, so `RedactSpanPaths` alone would not see the last values)."""
    if not span.is_recording():
        return
    for key, value in dict(getattr(span, "attributes", None) or {}).items():
        if isinstance(value, str) and (redacted := redact_signed_paths(value)) != value:
            span.set_attribute(key, redacted)
    if (name := getattr(span, "name", "")) and (redacted_name := redact_signed_paths(name)) != name:
        span.update_name(redacted_name)


class RedactSpanPaths(SpanProcessor):
    """Redacts signed links in a span's string attributes as it starts: the ASGI instrumentation
    records the request's path and URL (`http.target`, `url.path`, `http.url`, ...) when it starts
    the server span, so a share link's token would otherwise leave in every trace."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        redact_span_attributes(span)


def configure_tracing(service: str, *, region: str, otlp_endpoint: str = "") -> TracerProvider:
    """Install a tracer provider for `service`; spans leave over OTLP/HTTP when an endpoint is set.
    Signed links in span attributes are redacted first (`RedactSpanPaths`)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, "cloud.region": region}))
    provider.add_span_processor(RedactSpanPaths())
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    # Only the first provider set in a process sticks; tests that build several apps share it.
    trace.set_tracer_provider(provider)
    return provider


def configure_observability(settings: Any) -> None:
    """Logging and tracing for the service that `settings` describe."""
    configure_logging_from(settings)
    configure_tracing(settings.service, region=settings.region, otlp_endpoint=settings.otel_exporter_otlp_endpoint)

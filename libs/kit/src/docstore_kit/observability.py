"""Logging, tracing and metrics for a service, set up by one call.

structlog writes JSON (console on a terminal) with the trace id of the current span;
secrets and passwords are masked by key. OpenTelemetry exports over OTLP/HTTP when
an endpoint is configured. Prometheus metrics are served at `/metrics`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SENSITIVE_KEYS = ("password", "secret", "token", "authorization", "cookie", "hash", "credential")


def mask_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: never let a value whose key names a secret reach a log line."""
    for key in list(event_dict):
        if any(word in key.lower() for word in SENSITIVE_KEYS):
            event_dict[key] = "***"
    return event_dict


def add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's trace and span id, for joining logs to traces."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def configure_logging(service: str, *, log_format: str = "auto", level: str = "INFO") -> None:
    """Route structlog and the standard library's logging through one JSON/console renderer."""
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        mask_secrets,
    ]
    renderer = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "botocore", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.bind_contextvars(service=service)


def configure_tracing(service: str, *, region: str, otlp_endpoint: str = "") -> TracerProvider:
    """Install a tracer provider for `service`; spans leave over OTLP/HTTP when an endpoint is set."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, "cloud.region": region}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    # Only the first provider set in a process sticks; tests that build several apps share it.
    trace.set_tracer_provider(provider)
    return provider


def configure_observability(settings: Any) -> None:
    """Logging and tracing for the service that `settings` describe."""
    configure_logging(settings.service, log_format=settings.log_format, level=settings.log_level)
    configure_tracing(settings.service, region=settings.region, otlp_endpoint=settings.otel_exporter_otlp_endpoint)

"""Internal: OpenTelemetry tracing for the worker: Temporal's interceptor, and somewhere for its
spans to go.

``NUKIFLOW_OTEL_TRACING=true`` adds Temporal's :class:`TracingInterceptor`. The interceptor only
creates spans; a tracer provider with an exporter sends them somewhere. Where one is set up
already (``opentelemetry-instrument`` / a distro reading the standard ``OTEL_*`` variables, or
code that called ``set_tracer_provider``), it is used as it is. Otherwise nukiflow sets up the
OpenTelemetry SDK itself with the exporter ``NUKIFLOW_OTEL_EXPORTER`` names:

- ``console``: spans as JSON on stdout (from ``opentelemetry-sdk``, part of ``nukiflow[otel]``);
- ``otlp``: OTLP over HTTP to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
  ``OTEL_EXPORTER_OTLP_ENDPOINT``; needs ``opentelemetry-exporter-otlp-proto-http`` installed
  beside nukiflow. Unset, this is the choice whenever one of those endpoints is set.

With none of these, spans are dropped, and the worker says so at start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Literal

from temporalio.client import Interceptor

from nukiflow.settings import Settings

log = logging.getLogger("nukiflow.temporal.tracing")

SERVICE_NAME = "nukiflow-worker"
OTLP_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
INSTALL_HINT = "pip install 'nukiflow[otel]'"
OTLP_INSTALL_HINT = (
    "pip install opentelemetry-exporter-otlp-proto-http, or run the worker under "
    "opentelemetry-instrument (opentelemetry-distro) with the standard OTEL_* variables"
)

Exporter = Literal["console", "otlp"]


def exporter_choice(settings: Settings, environ: Mapping[str, str]) -> Exporter | None:
    """The exporter nukiflow sets up when no tracer provider exists: the setting, else OTLP
    when a standard OTLP endpoint is configured, else none."""
    if settings.otel_exporter is not None:
        return settings.otel_exporter
    if any(environ.get(name) for name in OTLP_ENDPOINT_VARS):
        return "otlp"
    return None


def tracing_interceptor(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> Interceptor:
    """Temporal's tracing interceptor, after making sure its spans reach an exporter."""
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise RuntimeError(f"NUKIFLOW_OTEL_TRACING needs OpenTelemetry: {INSTALL_HINT}") from None
    ensure_tracer_provider(settings, os.environ if environ is None else environ)
    # Workflows are mostly started by clients without tracing (the CLI, the facade in another
    # process); without this their runs would have no spans, only their activities would.
    return TracingInterceptor(always_create_workflow_spans=True)


def tracing_interceptors(settings: Settings) -> list[Interceptor]:
    """OpenTelemetry spans for every workflow, activity and client call, when enabled, with an
    exporter for them."""
    if not settings.otel_tracing:
        return []
    return [tracing_interceptor(settings)]


def ensure_tracer_provider(settings: Settings, environ: Mapping[str, str]) -> bool:
    """Set up the OpenTelemetry SDK with the chosen exporter unless a tracer provider is set up
    already. True when this call set one up."""
    from opentelemetry import trace  # type: ignore[import-not-found, unused-ignore]

    # The API hands out a proxy until someone sets a real provider (the SDK's, a vendor's, or a
    # no-op one on purpose): anything else was configured deliberately and is left alone.
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        log.info("OpenTelemetry: using the tracer provider set up already")
        return False
    choice = exporter_choice(settings, environ)
    if choice is None:
        log.warning(
            "NUKIFLOW_OTEL_TRACING is on but nothing exports spans, so they are dropped: set "
            "NUKIFLOW_OTEL_EXPORTER=console, or OTEL_EXPORTER_OTLP_ENDPOINT (%s)",
            OTLP_INSTALL_HINT,
        )
        return False
    try:
        from opentelemetry.sdk.resources import (  # type: ignore[import-not-found, unused-ignore]
            Resource,
        )
        from opentelemetry.sdk.trace import (  # type: ignore[import-not-found, unused-ignore]
            TracerProvider,
        )
        from opentelemetry.sdk.trace.export import (  # type: ignore[import-not-found, unused-ignore]
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        raise RuntimeError(
            f"NUKIFLOW_OTEL_EXPORTER={choice} needs the OpenTelemetry SDK: {INSTALL_HINT}"
        ) from None
    exporter: SpanExporter
    if choice == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter,
            )
        except ImportError:
            raise RuntimeError(
                f"OTLP export of traces needs its exporter: {OTLP_INSTALL_HINT}"
            ) from None
        # Reads the endpoint, headers, timeout and compression from the OTEL_* variables.
        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win; only the SDK's "unknown_service" default
    # is replaced, so the spans say which program sent them.
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    # The SDK flushes the batch at interpreter exit (shutdown_on_exit), and flush_traces()
    # below does it when the worker stops.
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("OpenTelemetry: exporting spans to %s", choice)
    return True


def flush_traces(timeout_millis: int = 5000) -> None:
    """Send spans still waiting in a batch, so the last ones before a shutdown are not lost."""
    try:
        from opentelemetry import trace  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if callable(flush):
        flush(timeout_millis)

"""Test-wide set-up: one in-memory span exporter for the whole pytest process.

OpenTelemetry allows one global tracer provider per process, so it is
installed here, before any app instruments itself; tests read spans from the
`span_exporter` fixture.
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SPAN_EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPAN_EXPORTER))
trace.set_tracer_provider(_provider)


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    """The process's in-memory span exporter, emptied for this test."""
    SPAN_EXPORTER.clear()
    return SPAN_EXPORTER

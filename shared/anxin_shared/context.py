"""Per-request context: the request id, the path the request arrived on, the trace id."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("anxin_request_id", default=None)
# (method, raw path) of the request being handled, as this process received it.
received_var: ContextVar[tuple[str, str] | None] = ContextVar("anxin_received", default=None)


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The request id of the request being handled, or a new one outside a request."""
    return request_id_var.get() or new_request_id()


def current_received() -> tuple[str, str] | None:
    """(method, raw path) of the request being handled, as received; None outside a request."""
    return received_var.get()


def current_trace_id() -> str | None:
    """The W3C trace id of the active span, as 32 hex digits, if any."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x")

"""OpenTelemetry tracing through the API only (no SDK forced on users).

Without an SDK configured every span is a cheap no-op; with one (installed by the user)
the order path and sampled event path show up in their tracing backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from tradegw_core import __version__

__all__ = ["current_trace_id", "get_tracer", "span"]

_AttrValue = str | bool | int | float


def get_tracer(
    name: str = "tradegw", *, provider: trace.TracerProvider | None = None
) -> trace.Tracer:
    """A tracer for ``name`` (from ``provider``, or the globally configured one)."""
    return trace.get_tracer(name, __version__, tracer_provider=provider)


def _attribute(value: Any) -> _AttrValue:
    return value if isinstance(value, str | bool | int | float) else str(value)


@contextmanager
def span(
    tracer: trace.Tracer, name: str, attributes: Mapping[str, Any] | None = None
) -> Iterator[trace.Span]:
    """Run the block in span ``name``; an escaping exception is recorded on it.

    Attribute values that OpenTelemetry cannot carry (``Decimal``...) become strings.
    """
    attrs = {k: _attribute(v) for k, v in (attributes or {}).items()}
    with tracer.start_as_current_span(name, attributes=attrs) as current:
        yield current


def current_trace_id() -> str:
    """The current span's trace id as 32 hex digits, or ``""`` when not tracing."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""

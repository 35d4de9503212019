"""OpenTelemetry spans of the order path, recorded by a minimal in-test Tracer (API only).

No OpenTelemetry SDK is a dependency; the recording tracer below implements the API's
abstract ``TracerProvider`` / ``Tracer`` / ``Span`` and is injected through
``tradegw_core.observability.tracing.get_tracer``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context

from tradegw_core.observability.tracing import get_tracer

_IDS = itertools.count(1)
ORDER_KEYS = {"provider", "symbol", "client_order_id", "consumer_id", "decision_id"}


class RecordedSpan(trace.NonRecordingSpan):
    """A span that keeps its name, parent, attributes and whether it ended."""

    def __init__(self, name: str, parent: trace.SpanContext | None, attrs: Mapping[str, Any]):
        trace_id = parent.trace_id if parent is not None and parent.is_valid else next(_IDS)
        super().__init__(trace.SpanContext(trace_id, next(_IDS), is_remote=False))
        self.name = name
        self.parent = parent if parent is not None and parent.is_valid else None
        self.attributes: dict[str, Any] = dict(attrs)
        self.ended = False

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.attributes.update(attributes)

    def is_recording(self) -> bool:
        return not self.ended

    def end(self, end_time: int | None = None) -> None:
        self.ended = True


class RecordingTracer(trace.Tracer):
    """Starts :class:`RecordedSpan` s as children of the current span and keeps them."""

    def __init__(self) -> None:
        self.spans: list[RecordedSpan] = []

    def start_span(
        self, name: str, context: Context | None = None, *args: Any, **kw: Any
    ) -> RecordedSpan:
        parent = trace.get_current_span(context).get_span_context()
        span = RecordedSpan(name, parent, kw.get("attributes") or {})
        self.spans.append(span)
        return span

    @contextmanager
    def start_as_current_span(
        self, name: str, context: Context | None = None, *args: Any, **kw: Any
    ) -> Iterator[trace.Span]:
        end_on_exit = kw.pop("end_on_exit", True)
        span = self.start_span(name, context, **kw)
        with trace.use_span(span, end_on_exit=end_on_exit) as current:
            yield current

    def named(self, name: str) -> list[RecordedSpan]:
        return [s for s in self.spans if s.name == name]

    def children(self, parent: RecordedSpan) -> list[str]:
        own = parent.get_span_context().span_id
        return [s.name for s in self.spans if s.parent is not None and s.parent.span_id == own]


class RecordingProvider(trace.TracerProvider):
    """Hands out one shared :class:`RecordingTracer`."""

    def __init__(self) -> None:
        self.tracer = RecordingTracer()

    def get_tracer(self, *args: Any, **kw: Any) -> trace.Tracer:
        return self.tracer


@pytest.fixture
def recorder() -> RecordingProvider:
    return RecordingProvider()


def _tracer(recorder: RecordingProvider) -> trace.Tracer:
    tracer = get_tracer("tradegw.orders", provider=recorder)
    assert tracer is recorder.tracer
    return tracer


@pytest.mark.anyio
async def test_submit_has_journal_and_venue_child_spans_with_order_attributes(
    harness, make_order, recorder
) -> None:
    svc = harness.service(tracer=_tracer(recorder))
    async with svc.running():
        result = await svc.submit(make_order("c1", decision_id="d-7"))
    spans = recorder.tracer
    (submit,) = spans.named("order.submit")
    assert submit.attributes == {
        "provider": "fakex",
        "symbol": "BTC-USDT",
        "client_order_id": "c1",
        "consumer_id": "alpha",
        "decision_id": "d-7",
        "status": "ACCEPTED",
    }
    assert submit.ended
    assert spans.children(submit) == ["order.journal_write", "order.venue_submit"]
    for child in ("order.journal_write", "order.venue_submit"):
        (span,) = spans.named(child)
        assert {k: span.attributes[k] for k in ORDER_KEYS} == {
            k: submit.attributes[k] for k in ORDER_KEYS
        }
        assert span.ended
    # The trace id the consumer's reports carry is the span's.
    (_, ack), *_ = harness.sink.items
    assert ack.trace_id == format(submit.get_span_context().trace_id, "032x")
    assert result.ok


@pytest.mark.anyio
async def test_cancel_span_wraps_the_venue_call(harness, make_order, recorder) -> None:
    svc = harness.service(tracer=_tracer(recorder))
    async with svc.running():
        await svc.submit(make_order("c1", decision_id="d-1"))
        (result,) = await svc.cancel_all("alpha")
    assert result.ok
    (cancel,) = recorder.tracer.named("order.cancel")
    assert cancel.attributes == {
        "provider": "fakex",
        "symbol": "BTC-USDT",
        "client_order_id": "c1",
        "consumer_id": "alpha",
        "decision_id": "d-1",
        "ok": True,
        "reason": "",
    }
    assert recorder.tracer.children(cancel) == ["order.venue_cancel"]


@pytest.mark.anyio
async def test_unknown_outcome_resolution_and_start_up_reconcile_are_traced(
    harness, make_order, recorder
) -> None:
    harness.venue.submit_mode = "lost_after"
    svc = harness.service(tracer=_tracer(recorder))
    async with svc.running():
        await svc.submit(make_order("u1", decision_id="d-u"))
        await harness.telemetry.wait_for("order.outcome_unknown")
        await harness.sink.wait_for(1)  # the query found the order: ACK
    (resolve,) = recorder.tracer.named("order.resolve")
    assert resolve.attributes["client_order_id"] == "u1"
    assert resolve.attributes["decision_id"] == "d-u"
    assert resolve.attributes["never_acked"] is True
    assert resolve.attributes["resolved"] is True
    assert resolve.attributes["state"] == "ACK"
    assert recorder.tracer.named("order.reconcile")[0].attributes == {"orders": 0}

    # A restart with the order still open reconciles it, under one order.reconcile span.
    restart = RecordingProvider()
    svc2 = harness.service(tracer=_tracer(restart))
    async with svc2.running():
        pass
    (reconcile,) = restart.tracer.named("order.reconcile")
    assert reconcile.attributes == {"orders": 1}
    assert restart.tracer.children(reconcile) == ["order.resolve"]
    assert restart.tracer.named("order.resolve")[0].attributes["never_acked"] is False

"""Order-state tracking: which orders each consumer has, and which report may follow which.

:func:`check_transition` is the pure rule book. :class:`OrderStateTracker` holds every
tracked order (indexed per consumer for the open-order queries), accepts the adapters'
ExecReports through the synchronous :meth:`OrderStateTracker.on_exec_report`, drops exact
duplicates, refuses impossible transitions with ``order.invalid_transition`` telemetry, logs
every transition with its trace_id and decision_id, and hands each accepted report to the
:class:`~tradegw_core.orders.reports.ReportPipeline`, which journals it and then delivers it
to the owning consumer, in order.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import msgspec

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.orders.latency import OrderLatency
from tradegw_core.orders.metrics import OrderMetrics
from tradegw_core.schema.events import ExecReport, ExecState, Side

__all__ = [
    "OpenOrder",
    "OrderStateTracker",
    "ReportSink",
    "TrackedOrder",
    "Verdict",
    "check_transition",
]

OrderKey = tuple[str, str]
"""(provider, client_order_id)."""


class Verdict(enum.Enum):
    """What to do with a report given the order's current state."""

    APPLY = "apply"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


def check_transition(
    prev: ExecState | None, prev_cum: Decimal, new: ExecState, new_cum: Decimal
) -> tuple[Verdict, str]:
    """Judge ``prev`` (cum ``prev_cum``) -> ``new`` (cum ``new_cum``); the reason if invalid.

    Same state and cum_qty is a duplicate. Nothing follows a final state; cum_qty never
    goes down; PARTIAL never goes back to ACK; an order with fills is never REJECTED.
    PARTIAL -> FILLED with an unchanged cum_qty is valid (Kraken reports the last fill as
    ``partially_filled`` and then a separate ``filled``).
    """
    if prev is new and new_cum == prev_cum:
        return Verdict.DUPLICATE, ""
    if new_cum < prev_cum:
        return Verdict.INVALID, f"cum_qty went down from {prev_cum} to {new_cum}"
    if prev is None:
        return Verdict.APPLY, ""
    if prev.is_final:
        return Verdict.INVALID, f"{prev} is final; {new} cannot follow it"
    if prev is ExecState.PARTIAL and new is ExecState.ACK:
        return Verdict.INVALID, "ACK cannot follow PARTIAL"
    if new is ExecState.REJECTED and max(prev_cum, new_cum) > 0:
        return Verdict.INVALID, "an order with fills cannot be REJECTED"
    return Verdict.APPLY, ""


@dataclass(slots=True)
class TrackedOrder:
    """One order as the gateway knows it (mutable; the tracker owns it)."""

    provider: str
    symbol: str
    client_order_id: str
    consumer_id: str
    side: Side
    qty: Decimal
    price: Decimal | None
    decision_id: str = ""
    trace_id: str = ""
    venue_symbol: str = ""
    state: ExecState | None = None
    cum_qty: Decimal = Decimal(0)
    leaves_qty: Decimal | None = None
    avg_price: Decimal | None = None
    venue_order_id: str | None = None
    gone: bool = False
    """True when the order is known never to have reached the venue."""
    created_ns: int = field(default=0)
    submitted_mono_ns: int | None = None
    """Monotonic time this process submitted it (None for orders restored from the journal);
    the start of the submit -> ACK and submit -> first fill latencies."""

    @property
    def is_open(self) -> bool:
        """Live or possibly live on the venue (in flight and unknown count as open)."""
        return not self.gone and (self.state is None or not self.state.is_final)


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A consumer's open order, as :meth:`OrderStateTracker.open_orders` returns it."""

    provider: str
    symbol: str
    client_order_id: str
    side: Side
    qty: Decimal
    price: Decimal | None
    state: ExecState | None
    """None while the venue has not confirmed the order (in flight or unknown)."""
    cum_qty: Decimal
    leaves_qty: Decimal | None
    avg_price: Decimal | None
    venue_order_id: str | None
    decision_id: str


class ReportSink(Protocol):
    """Where accepted reports go (the ReportPipeline)."""

    def put_nowait(self, report: ExecReport) -> None:
        """Queue a report for journaling and delivery (never refuses)."""
        ...


class OrderStateTracker:
    """Every tracked order, per consumer; the gate every ExecReport passes through."""

    def __init__(
        self,
        sink: ReportSink,
        *,
        telemetry: Telemetry,
        metrics: OrderMetrics,
        log: logging.Logger,
        clock: Clock | None = None,
    ) -> None:
        self._sink = sink
        self._clock: Clock = clock or SystemClock()
        self._latency = OrderLatency(metrics.registry)
        self._telemetry = telemetry
        self._metrics = metrics
        self._log = log
        self._orders: dict[OrderKey, TrackedOrder] = {}
        self._open: dict[str, dict[OrderKey, TrackedOrder]] = {}

    def track(self, order: TrackedOrder) -> None:
        """Start tracking ``order`` (before it is sent, so no report can beat it)."""
        key = (order.provider, order.client_order_id)
        self._orders[key] = order
        self._index(key, order)

    def get(self, provider: str, client_order_id: str) -> TrackedOrder | None:
        """The tracked order, or None."""
        return self._orders.get((provider, client_order_id))

    def forget(self, provider: str, client_order_id: str) -> None:
        """Stop tracking (the journal purged it)."""
        key = (provider, client_order_id)
        order = self._orders.pop(key, None)
        if order is not None:
            self._open.get(order.consumer_id, {}).pop(key, None)

    def mark_gone(self, provider: str, client_order_id: str) -> None:
        """Record that the order never reached the venue (no longer open)."""
        order = self._orders.get((provider, client_order_id))
        if order is not None:
            order.gone = True
            self._index((provider, client_order_id), order)

    def open_of(self, provider: str) -> list[TrackedOrder]:
        """Every open order of ``provider`` (acknowledged or in flight), oldest first."""
        return [o for per in self._open.values() for o in per.values() if o.provider == provider]

    def open_count(self, consumer_id: str) -> int:
        """How many orders ``consumer_id`` has open or in flight."""
        return len(self._open.get(consumer_id, ()))

    def open_orders(self, consumer_id: str) -> list[OpenOrder]:
        """The consumer's open orders, oldest first."""
        return [
            OpenOrder(
                provider=o.provider,
                symbol=o.symbol,
                client_order_id=o.client_order_id,
                side=o.side,
                qty=o.qty,
                price=o.price,
                state=o.state,
                cum_qty=o.cum_qty,
                leaves_qty=o.leaves_qty,
                avg_price=o.avg_price,
                venue_order_id=o.venue_order_id,
                decision_id=o.decision_id,
            )
            for o in self._open.get(consumer_id, {}).values()
        ]

    def on_exec_report(self, report: ExecReport, *, force: bool = False) -> bool:
        """Take one report (synchronous: the adapters' ``emit``). True when it was accepted.

        ``force`` is for the venue's answer to a reconciliation query: delivered even when
        it repeats the journaled state (the restarted consumer must hear it), and applied
        even when it contradicts the journal (the venue is the truth; telemetry says so).
        Never raises for a full backlog: the pipeline queues and counts instead.
        """
        key = (report.provider, report.client_order_id)
        order = self._orders.get(key)
        if order is None:
            self._telemetry.emit(
                "order.unowned_report",
                provider=report.provider,
                client_order_id=report.client_order_id,
                state=str(report.state),
            )
            return False
        if not force and _is_stale_ack(order, report):
            # The venue's answer to the submission, overtaken by the user stream: old news.
            self._metrics.stale_reports.labels(report.provider).inc()
            self._telemetry.emit(
                "order.stale_report",
                provider=report.provider,
                client_order_id=report.client_order_id,
                state=str(report.state),
                current=str(order.state),
            )
            return False
        verdict, why = check_transition(order.state, order.cum_qty, report.state, report.cum_qty)
        if verdict is Verdict.DUPLICATE and not force:
            self._metrics.duplicate_reports.labels(report.provider).inc()
            return False
        if verdict is Verdict.INVALID:
            self._telemetry.emit(
                "order.invalid_transition" if not force else "order.reconcile_override",
                provider=report.provider,
                client_order_id=report.client_order_id,
                consumer_id=order.consumer_id,
                from_state=str(order.state),
                to_state=str(report.state),
                reason=why,
            )
            if not force:
                self._metrics.invalid_transitions.labels(report.provider).inc()
                self._log.warning(
                    "order %s/%s: refused %s -> %s: %s",
                    report.provider,
                    report.client_order_id,
                    order.state,
                    report.state,
                    why,
                    extra={"trace_id": order.trace_id, "decision_id": order.decision_id},
                )
                return False
        self._apply(order, report)
        self._sink.put_nowait(report)
        return True

    async def feed(self, report: ExecReport, force: bool = False) -> None:
        """:meth:`on_exec_report` for async callers (the order path's own reports)."""
        self.on_exec_report(report, force=force)

    def _apply(self, order: TrackedOrder, report: ExecReport) -> None:
        prev = order.state
        if order.submitted_mono_ns is not None:
            self._observe_latency(order, report)
        report.consumer_id = order.consumer_id
        report.decision_id = report.decision_id or order.decision_id
        report.trace_id = report.trace_id or order.trace_id
        order.state = report.state
        order.cum_qty = report.cum_qty
        order.leaves_qty = report.leaves_qty
        order.avg_price = report.avg_price if report.avg_price is not None else order.avg_price
        order.venue_order_id = report.venue_order_id or order.venue_order_id
        order.gone = False
        self._index((order.provider, order.client_order_id), order)
        self._metrics.states.labels(order.provider, str(report.state)).inc()
        self._log.info(
            "order %s/%s %s -> %s cum_qty=%s",
            order.provider,
            order.client_order_id,
            prev,
            report.state,
            report.cum_qty,
            extra={"trace_id": report.trace_id, "decision_id": report.decision_id},
        )

    def _observe_latency(self, order: TrackedOrder, report: ExecReport) -> None:
        assert order.submitted_mono_ns is not None
        self._latency.observe(
            order.provider,
            (self._clock.monotonic_ns() - order.submitted_mono_ns) / 1e9,
            ack=order.state is None and report.state is not ExecState.REJECTED,
            first_fill=order.cum_qty == 0 and report.cum_qty > 0,
        )

    def _index(self, key: OrderKey, order: TrackedOrder) -> None:
        per = self._open.setdefault(order.consumer_id, {})
        if order.is_open:
            per[key] = order
        else:
            per.pop(key, None)


def _is_stale_ack(order: TrackedOrder, report: ExecReport) -> bool:
    """An ACK arriving after the order was acknowledged and moved on (fills or cancel).

    An ACK after REJECTED stays an invalid transition: it means the venue has the order.
    """
    return (
        report.state is ExecState.ACK
        and order.state not in (None, ExecState.ACK, ExecState.REJECTED)
        and report.cum_qty <= order.cum_qty
    )

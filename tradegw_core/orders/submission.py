"""Small pieces the order service is built from: the dedup entry and gateway-made reports."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from tradegw_core.clock import Clock
from tradegw_core.journal import JournalRecord, OrderPhase
from tradegw_core.orders.state import TrackedOrder
from tradegw_core.schema.events import EventType, ExecReport, ExecState, make_event_id
from tradegw_core.schema.orders import OrderRequest, OrderResult, OrderStatus

__all__ = [
    "NullTelemetry",
    "Submission",
    "duplicate_result",
    "make_report",
    "new_order",
    "not_taken",
    "request_of",
    "restore",
    "span_attributes",
]


class NullTelemetry:
    """Telemetry that goes nowhere (when the gateway gives none)."""

    def emit(self, name: str, /, **labels: Any) -> None:
        """Drop the event."""


class Submission:
    """The dedup entry of one client_order_id: its owner and first result.

    While the first submission is still in progress ``result`` is None and concurrent
    duplicates wait on :meth:`wait_done`. ``sent`` turns True once the order was journaled for
    sending; a submission refused before that releases its client_order_id.
    """

    __slots__ = ("_done", "consumer_id", "result", "sent")

    def __init__(
        self, consumer_id: str, result: OrderResult | None, done: anyio.Event | None = None
    ) -> None:
        self.consumer_id = consumer_id
        self.result = result
        self.sent = result is not None
        self._done = done

    def finish(self) -> None:
        """Wake the duplicates waiting for the first result."""
        if self._done is not None:
            self._done.set()

    async def wait_done(self) -> None:
        """Wait until the first submission has finished (with a result, or died)."""
        if self._done is not None:
            await self._done.wait()


def request_of(req: OrderRequest) -> dict[str, Any]:
    """The request as a JSON-ready dict (for the journal's log)."""
    return req.model_dump(mode="json")


def make_report(order: TrackedOrder, state: ExecState, reason: str, clock: Clock) -> ExecReport:
    """A report the gateway itself makes (an ack without a venue report, a rejection)."""
    leaves = order.qty - order.cum_qty if not state.is_final else order.qty * 0
    return ExecReport(
        event_id=make_event_id(
            order.provider, order.symbol, EventType.EXEC_REPORT, f"{order.client_order_id}:{state}"
        ),
        provider=order.provider,
        symbol=order.symbol,
        venue_symbol=order.venue_symbol,
        ts_ingest=clock.monotonic_ns(),
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        state=state,
        side=order.side,
        order_qty=order.qty,
        price=order.price,
        cum_qty=order.cum_qty,
        leaves_qty=leaves,
        reason=reason,
        venue_status="gateway",
        trace_id=order.trace_id,
        consumer_id=order.consumer_id,
        decision_id=order.decision_id,
    )


def restore(rec: JournalRecord) -> tuple[TrackedOrder, Submission, bool]:
    """Rebuild a journaled order: its tracked state, its dedup entry, and whether we never
    heard back about its submission (it must then be resolved by query)."""
    req = OrderRequest.model_validate_json(rec.request)
    order = TrackedOrder(
        provider=rec.provider,
        symbol=rec.symbol,
        client_order_id=rec.client_order_id,
        consumer_id=rec.consumer_id,
        side=req.side,
        qty=req.qty,
        price=req.price,
        decision_id=req.decision_id,
        trace_id=rec.trace_id,
        state=ExecState(rec.state) if rec.state else None,
        cum_qty=rec.cum_qty,
        venue_order_id=rec.venue_order_id,
        gone=rec.phase is OrderPhase.REJECTED and rec.state is None,
        created_ns=rec.created_ns,
    )
    first = (
        msgspec.json.decode(rec.result, type=OrderResult)
        if rec.result
        else OrderResult(
            client_order_id=rec.client_order_id,
            status=OrderStatus.UNKNOWN,
            reason="outcome_unknown",
            message="the gateway stopped before the venue answered",
        )
    )
    never_acked = rec.phase in (OrderPhase.SENDING, OrderPhase.UNKNOWN)
    return order, Submission(rec.consumer_id, first), never_acked


def duplicate_result(
    req: OrderRequest, sub: Submission, first: OrderResult, order: TrackedOrder | None
) -> OrderResult:
    """The answer to a repeated client_order_id (``order``: the tracked order, if any).

    Another consumer's reuse learns nothing about the first order.
    """
    if sub.consumer_id != req.consumer_id:
        return OrderResult(
            client_order_id=req.client_order_id,
            status=OrderStatus.DUPLICATE,
            reason="duplicate",
            message="another consumer already used this client_order_id; nothing was sent",
        )
    return OrderResult(
        client_order_id=req.client_order_id,
        status=OrderStatus.DUPLICATE,
        reason="duplicate",
        message="this client_order_id was submitted before; nothing was sent; `first` is "
        "that submission's result and `state` the order's state now",
        first=first,
        state=order.state if order is not None else first.state,
        venue_order_id=order.venue_order_id if order is not None else first.venue_order_id,
    )


def new_order(req: OrderRequest, venue_symbol: str, trace_id: str, now_ns: int) -> TrackedOrder:
    """The tracked order of a request that passed every local check."""
    return TrackedOrder(
        provider=req.provider,
        symbol=req.symbol,
        client_order_id=req.client_order_id,
        consumer_id=req.consumer_id,
        side=req.side,
        qty=req.qty,
        price=req.price,
        decision_id=req.decision_id,
        trace_id=trace_id,
        venue_symbol=venue_symbol,
        created_ns=now_ns,
    )


def span_attributes(req: OrderRequest) -> dict[str, str]:
    """Trace-span attributes of an order request (identifiers only, never secrets)."""
    return {
        "provider": req.provider,
        "symbol": req.symbol,
        "client_order_id": req.client_order_id,
        "consumer_id": req.consumer_id,
        "decision_id": req.decision_id,
    }


def not_taken(req: OrderRequest, reason: str, message: str) -> OrderResult:
    """A definite, retryable REJECTED: nothing left the process."""
    return OrderResult(
        client_order_id=req.client_order_id,
        status=OrderStatus.REJECTED,
        reason=reason,
        message=message,
        retryable=True,
    )

"""Sending one checked order: journal it, hand it to the venue once, record what came back.

The venue's answer decides the result: an ack is ACCEPTED (its immediate report, or a
gateway-made ACK, goes through the tracker to the consumer); a refusal is REJECTED; a request
that certainly never left (:class:`OrderNotSentError`: no connection, the adapter's client
closed by a restart) is REJECTED with reason ``not_sent`` and ``retryable`` set; anything
else (timeout, lost answer, an adapter bug) is UNKNOWN and handed to the resolver, which
queries the venue. The journal row exists before the adapter is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import anyio
import msgspec
from opentelemetry import trace

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.errors import OrderNotSentError, VenueRejectedError
from tradegw_core.journal import JournalRecord, OrderJournal, OrderPhase
from tradegw_core.observability.tracing import span
from tradegw_core.orders.recovery import FeedFn
from tradegw_core.orders.settings import OrderPathSettings
from tradegw_core.orders.state import OrderStateTracker, TrackedOrder
from tradegw_core.orders.submission import Submission, make_report, span_attributes
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import OrderRequest, OrderResult, OrderStatus

__all__ = ["OrderSender"]

_encode = msgspec.json.Encoder(decimal_format="string").encode


class OrderSender:
    """Journal -> adapter.submit (bounded by ``submit_timeout_s``) -> journal the outcome."""

    def __init__(
        self,
        *,
        journal: OrderJournal,
        tracker: OrderStateTracker,
        settings: OrderPathSettings,
        clock: Clock,
        telemetry: Telemetry,
        log: logging.Logger,
        feed: FeedFn,
        spawn_resolve: Callable[[TrackedOrder], None],
        tracer: trace.Tracer,
    ) -> None:
        self._journal = journal
        self._tracker = tracker
        self._settings = settings
        self._clock = clock
        self._telemetry = telemetry
        self._log = log
        self._feed = feed
        self._spawn_resolve = spawn_resolve
        self._tracer = tracer

    async def send(
        self, req: OrderRequest, order: TrackedOrder, adapter: OrderAdapter, sub: Submission
    ) -> OrderResult:
        """Send ``req`` once and return the consumer's result; ``sub`` learns it was sent.

        ``order`` is already tracked (the caller reserved its open-order slot).
        """
        now = self._clock.time_ns()
        attrs = span_attributes(req)
        record = JournalRecord(
            provider=req.provider,
            client_order_id=req.client_order_id,
            consumer_id=req.consumer_id,
            symbol=req.symbol,
            request=req.model_dump_json(),
            trace_id=order.trace_id,
            phase=OrderPhase.SENDING,
            state=None,
            cum_qty=Decimal(0),
            venue_order_id=None,
            result=None,
            created_ns=now,
            updated_ns=now,
        )
        with span(self._tracer, "order.journal_write", attrs):
            await self._journal.insert_order(record)
        sub.sent = True
        try:
            with (
                span(self._tracer, "order.venue_submit", attrs),
                anyio.fail_after(self._settings.submit_timeout_s),
            ):
                ack = await adapter.submit(req)
        except OrderNotSentError as exc:
            result = OrderResult(
                client_order_id=req.client_order_id,
                status=OrderStatus.REJECTED,
                reason="not_sent",
                message=f"nothing reached {req.provider}: {exc}; submit again (a new "
                "client_order_id: this one is journaled as rejected)",
                state=ExecState.REJECTED,
                retryable=True,
            )
            await self._set_phase(order, OrderPhase.REJECTED, result)
            await self._feed(make_report(order, ExecState.REJECTED, str(exc), self._clock), False)
            return result
        except VenueRejectedError as exc:
            result = OrderResult(
                client_order_id=req.client_order_id,
                status=OrderStatus.REJECTED,
                reason="venue_rejected",
                message=f"{req.provider} refused the order: {exc} (code {exc.code})",
                state=ExecState.REJECTED,
            )
            await self._set_phase(order, OrderPhase.REJECTED, result)
            await self._feed(make_report(order, ExecState.REJECTED, str(exc), self._clock), False)
            return result
        except Exception as exc:  # timeout, lost answer, or anything else: unknown, not failed
            if order.state is not None:  # the user stream already reported it: it is live
                result = OrderResult(
                    client_order_id=req.client_order_id,
                    status=OrderStatus.ACCEPTED,
                    venue_order_id=order.venue_order_id,
                    state=order.state,
                    message=f"the venue's answer was lost ({type(exc).__name__}) but its "
                    "user stream reported the order",
                )
                await self._set_phase(order, OrderPhase.SENT, result)
                return result
            self._log.warning(
                "submission of %s/%s has an unknown outcome: %r",
                req.provider,
                req.client_order_id,
                exc,
                extra={"trace_id": order.trace_id, "decision_id": order.decision_id},
            )
            result = OrderResult(
                client_order_id=req.client_order_id,
                status=OrderStatus.UNKNOWN,
                reason="outcome_unknown",
                message=(
                    f"the venue's answer was lost ({type(exc).__name__}); the gateway is "
                    "querying the venue and will report the order's true state; do not resend"
                ),
            )
            await self._set_phase(order, OrderPhase.UNKNOWN, result)
            self._telemetry.emit(
                "order.outcome_unknown", provider=req.provider, client_order_id=req.client_order_id
            )
            self._spawn_resolve(order)
            return result
        order.venue_order_id = ack.venue_order_id or order.venue_order_id
        report = ack.report
        state = report.state if report is not None else ExecState.ACK
        if state is ExecState.ACK and order.state is not None:
            state = order.state  # the user stream was faster: its state is newer
        result = OrderResult(
            client_order_id=req.client_order_id,
            status=OrderStatus.ACCEPTED,
            venue_order_id=ack.venue_order_id,
            state=state,
            report=report,
        )
        await self._set_phase(order, OrderPhase.SENT, result)
        if report is None and order.state is None:
            report = make_report(order, ExecState.ACK, "", self._clock)
        if report is not None:
            if not report.provider:
                report.provider = order.provider
            await self._feed(report, False)
        return result

    async def _set_phase(self, order: TrackedOrder, phase: OrderPhase, result: OrderResult) -> None:
        await self._journal.set_phase(
            order.provider,
            order.client_order_id,
            phase,
            self._clock.time_ns(),
            result=_encode(result).decode(),
            venue_order_id=order.venue_order_id,
        )

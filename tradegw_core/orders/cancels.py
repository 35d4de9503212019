"""Cancels: one order or all of a consumer's, never gated by the trading switch.

A cancel whose answer is lost is not retried blindly either: the order's state is fetched
with a query (in the service's task group) and arrives as an execution report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from opentelemetry import trace

from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.errors import VenueRejectedError
from tradegw_core.observability.tracing import span
from tradegw_core.orders.recovery import FeedFn
from tradegw_core.orders.state import OrderStateTracker, TrackedOrder
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import CancelRequest, CancelResult

__all__ = ["CancelHandler"]


class CancelHandler:
    """Checks ownership and state, journals the cancel, asks the venue, feeds its answer."""

    def __init__(
        self,
        adapters: Mapping[str, OrderAdapter],
        *,
        tracker: OrderStateTracker,
        timeout_s: float,
        log_entry: Callable[[str, dict[str, Any], str], Awaitable[None]],
        feed: FeedFn,
        spawn_refresh: Callable[[TrackedOrder], bool],
        tracer: trace.Tracer,
    ) -> None:
        self._adapters = adapters
        self._tracker = tracker
        self._timeout_s = timeout_s
        self._log_entry = log_entry
        self._feed = feed
        self._spawn_refresh = spawn_refresh
        self._tracer = tracer

    async def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel one of the consumer's orders (allowed whatever the trading switch says)."""
        order = self._tracker.get(request.provider, request.client_order_id)
        attrs = {
            "provider": request.provider,
            "symbol": request.symbol,
            "client_order_id": request.client_order_id,
            "consumer_id": request.consumer_id,
            "decision_id": order.decision_id if order is not None else "",
        }
        with span(self._tracer, "order.cancel", attrs) as current:
            result = await self._cancel(request, order)
            current.set_attribute("ok", result.ok)
            current.set_attribute("reason", result.reason)
        return result

    async def _cancel(self, request: CancelRequest, order: TrackedOrder | None) -> CancelResult:
        if order is None or order.consumer_id != request.consumer_id:
            return self._cancel_refused(
                request,
                "unknown_order",
                f"no order {request.client_order_id!r} of consumer "
                f"{request.consumer_id!r} on {request.provider}",
                None,
            )
        if not order.is_open:
            return self._cancel_refused(
                request,
                "not_open",
                f"the order is already {order.state or 'not placed'}",
                order.state,
            )
        if request.symbol != order.symbol:
            return self._cancel_refused(
                request,
                "invalid",
                f"the order is on {order.symbol}, not {request.symbol}",
                order.state,
            )
        adapter = self._adapters.get(request.provider)
        if adapter is None:
            return self._cancel_refused(
                request,
                "not_running",
                f"no running order adapter for {request.provider}",
                order.state,
            )
        await self._log_entry("cancel", request.model_dump(mode="json"), "")
        attrs = {"provider": request.provider, "client_order_id": request.client_order_id}
        try:
            with span(self._tracer, "order.venue_cancel", attrs), anyio.fail_after(self._timeout_s):
                report = await adapter.cancel(request)
        except VenueRejectedError as exc:
            return self._cancel_refused(
                request,
                "venue_rejected",
                f"{request.provider} refused the cancel: {exc}",
                order.state,
            )
        except Exception as exc:
            self._spawn_refresh(order)
            return self._cancel_refused(
                request,
                "outcome_unknown",
                f"the venue's answer was lost ({type(exc).__name__});"
                " the order's state will arrive as an execution report",
                order.state,
            )
        if report is not None:
            if not report.provider:
                report.provider = order.provider
            await self._feed(report, False)
        return CancelResult(client_order_id=request.client_order_id, ok=True, state=order.state)

    async def cancel_all(
        self, consumer_id: str, *, provider: str | None = None, symbol: str | None = None
    ) -> list[CancelResult]:
        """Cancel every open order of ``consumer_id`` (optionally one provider / symbol)."""
        results = []
        for o in self._tracker.open_orders(consumer_id):
            if (provider is None or o.provider == provider) and (symbol in (None, o.symbol)):
                req = CancelRequest(
                    client_order_id=o.client_order_id,
                    consumer_id=consumer_id,
                    provider=o.provider,
                    symbol=o.symbol,
                )
                results.append(await self.cancel(req))
        return results

    def _cancel_refused(
        self, request: CancelRequest, reason: str, message: str, state: ExecState | None
    ) -> CancelResult:
        return CancelResult(
            client_order_id=request.client_order_id,
            ok=False,
            reason=reason,
            message=message,
            state=state,
        )

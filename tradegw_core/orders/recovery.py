"""Resolving orders whose outcome is unknown, and reconciling open orders on start-up.

The one rule: an order that may have reached the venue is found out by *querying* the venue
by client order id (bounded attempts, exponential backoff), never by sending it again. Only
when every query of an order we never heard back about says "the venue has no such order"
is it concluded that it was not placed (a REJECTED report with reason ``not_received``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio
from opentelemetry import trace

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.observability.tracing import span
from tradegw_core.orders.settings import OrderPathSettings
from tradegw_core.orders.state import TrackedOrder
from tradegw_core.schema.events import ExecReport, ExecState
from tradegw_core.schema.symbols import Symbol

__all__ = ["FeedFn", "Resolver", "SyntheticFn"]

FeedFn = Callable[[ExecReport, bool], Awaitable[None]]
"""Put a report through the tracker (``force`` for reconciliation answers)."""
SyntheticFn = Callable[[TrackedOrder, ExecState, str], ExecReport]
"""Build a gateway-made report for an order (state, reason)."""


class Resolver:
    """Queries venues for orders of unknown outcome and for open orders after a restart."""

    def __init__(
        self,
        adapters: Mapping[str, OrderAdapter],
        *,
        settings: OrderPathSettings,
        feed: FeedFn,
        synthetic: SyntheticFn,
        clock: Clock,
        telemetry: Telemetry,
        log: logging.Logger,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._adapters = adapters
        self._settings = settings
        self._feed = feed
        self._synthetic = synthetic
        self._clock = clock
        self._telemetry = telemetry
        self._log = log
        self._tracer = tracer if tracer is not None else trace.get_tracer("tradegw.orders")

    async def resolve(
        self, order: TrackedOrder, *, never_acked: bool, force: bool = False, at_once: bool = False
    ) -> bool:
        """Find ``order``'s true state on its venue and feed it; True once it is known.

        ``never_acked``: we never heard back about the submission (SENDING/UNKNOWN), so a
        venue that keeps saying "no such order" means it was not placed. ``force``: deliver
        the answer even if it repeats what the consumer saw before a restart.
        """
        attrs = {
            "provider": order.provider,
            "symbol": order.symbol,
            "client_order_id": order.client_order_id,
            "consumer_id": order.consumer_id,
            "decision_id": order.decision_id,
            "never_acked": never_acked,
        }
        with span(self._tracer, "order.resolve", attrs) as current:
            known = await self._resolve(
                order, never_acked=never_acked, force=force, at_once=at_once
            )
            current.set_attribute("resolved", known)
            current.set_attribute("state", str(order.state))
        return known

    async def _resolve(
        self, order: TrackedOrder, *, never_acked: bool, force: bool, at_once: bool
    ) -> bool:
        adapter = self._adapters.get(order.provider)
        extra = {"trace_id": order.trace_id, "decision_id": order.decision_id}
        if adapter is None:
            self._telemetry.emit(
                "order.unresolved",
                provider=order.provider,
                client_order_id=order.client_order_id,
                reason="no order adapter for this provider",
            )
            return False
        s = self._settings
        delay = s.query_backoff_s
        not_found = 0
        for attempt in range(1, s.query_attempts + 1):
            if never_acked and not force and order.state is not None:
                return True  # the user stream told us meanwhile
            if attempt > 1 or not at_once:
                await anyio.sleep(delay)
                delay = min(delay * 2, s.query_backoff_max_s)
            try:
                with anyio.fail_after(s.submit_timeout_s):
                    report = await adapter.query(Symbol(order.symbol), order.client_order_id)
            except Exception as exc:
                self._log.warning(
                    "query %d/%d of %s/%s failed: %r",
                    attempt,
                    s.query_attempts,
                    order.provider,
                    order.client_order_id,
                    exc,
                    extra=extra,
                )
                continue
            if report is None:
                not_found += 1
                continue
            if not report.provider:
                report.provider = order.provider
            await self._feed(report, force)
            return True
        if never_acked and not_found == s.query_attempts:
            reason = (
                f"not_received: the venue has no record of this order after "
                f"{s.query_attempts} queries; it was not placed"
            )
            await self._feed(self._synthetic(order, ExecState.REJECTED, reason), True)
            return True
        self._telemetry.emit(
            "order.unresolved",
            provider=order.provider,
            client_order_id=order.client_order_id,
            reason=f"{not_found} of {s.query_attempts} queries found nothing, the rest failed",
        )
        self._log.error(
            "order %s/%s is still of unknown outcome; it is queried again at the next start",
            order.provider,
            order.client_order_id,
            extra=extra,
        )
        return False

    async def reconcile(
        self, orders: Sequence[tuple[TrackedOrder, bool]], *, force: bool = True, provider: str = ""
    ) -> None:
        """Resolve each (order, never_acked) pair, a few at a time, and tell its consumer.

        ``force`` (after a process restart): deliver each answer even when it repeats what
        the consumer saw before. Without it (after an order adapter or user stream
        restart, same process) only what the consumer has not heard yet is delivered.
        The first query of each order goes out at once.
        """
        with span(self._tracer, "order.reconcile", {"orders": len(orders)}):
            await self._reconcile(orders, force)
        self._telemetry.emit("order.reconciled", orders=len(orders), provider=provider)

    async def _reconcile(self, orders: Sequence[tuple[TrackedOrder, bool]], force: bool) -> None:
        limiter = anyio.CapacityLimiter(max(1, self._settings.reconcile_concurrency))

        async def one(order: TrackedOrder, never_acked: bool) -> None:
            async with limiter:
                await self.resolve(order, never_acked=never_acked, force=force, at_once=True)

        async with anyio.create_task_group() as tg:
            for order, never_acked in orders:
                tg.start_soon(one, order, never_acked)

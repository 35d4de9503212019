"""What a consumer gets from the gateway: :class:`ConsumerContext` (``contracts.ConsumerContext``).

Subscriptions go through the control bus and return its Ack. Orders go to an injected
:class:`OrderService` (the order path); without one, ``submit_order`` answers REJECTED
saying trading is not configured. ``log`` is a logger bound to the consumer that adds the
``trace_id`` of the event being handled to every record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tradegw_core.bus.control import ControlBus
from tradegw_core.clock import Clock
from tradegw_core.schema.control import Ack
from tradegw_core.schema.events import EventType, StreamKey
from tradegw_core.schema.orders import (
    CancelRequest,
    CancelResult,
    OrderRequest,
    OrderResult,
    OrderStatus,
)

if TYPE_CHECKING:
    from tradegw_core.orders.state import OpenOrder

__all__ = ["ConsumerContext", "ConsumerLogger", "OrderService"]


class OrderService(Protocol):
    """The order path as a consumer context uses it (trading switch, handler, adapters)."""

    async def submit(self, order: OrderRequest) -> OrderResult:
        """Submit one order; the result says what happened at once."""
        ...

    async def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel one order by client order id."""
        ...

    def open_orders(self, consumer_id: str) -> list[OpenOrder]:
        """The consumer's open (or in-flight) orders."""
        ...

    async def cancel_all(
        self, consumer_id: str, *, provider: str | None = None, symbol: str | None = None
    ) -> list[CancelResult]:
        """Cancel every open order of ``consumer_id`` (optionally one provider / symbol)."""
        ...


class ConsumerLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds ``consumer_id`` and the current ``trace_id`` / ``decision_id`` to each record."""

    def __init__(self, logger: logging.Logger, ctx: ConsumerContext) -> None:
        super().__init__(logger, {})
        self._ctx = ctx

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        """Merge the bound fields into ``extra``."""
        extra = dict(kwargs.get("extra") or {})
        extra.setdefault("consumer_id", self._ctx.consumer_id)
        extra.setdefault("trace_id", self._ctx.trace_id)
        extra.setdefault("decision_id", self._ctx.decision_id)
        kwargs["extra"] = extra
        return msg, kwargs


class ConsumerContext:
    """The gateway's implementation of ``contracts.ConsumerContext`` for one consumer."""

    def __init__(
        self,
        consumer_id: str,
        *,
        control: ControlBus,
        clock: Clock,
        settings: Any = None,
        metrics: Any = None,
        order_service: OrderService | None = None,
        subscriptions: Callable[[str], list[StreamKey]] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._consumer_id = consumer_id
        self._control = control
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._orders = order_service
        self._subscriptions = subscriptions
        self.trace_id = ""
        """The trace id of the event being handled (set by the consumer's task)."""
        self.decision_id = ""
        """Set by the strategy to tie its log lines and orders to one decision."""
        base = (
            logger if logger is not None else logging.getLogger(f"tradegw.consumer.{consumer_id}")
        )
        self._log = ConsumerLogger(base, self)

    @property
    def consumer_id(self) -> str:
        """The consumer's configured name."""
        return self._consumer_id

    @property
    def settings(self) -> Any:
        """The consumer's settings section (or None)."""
        return self._settings

    @property
    def clock(self) -> Clock:
        """The gateway clock."""
        return self._clock

    @property
    def log(self) -> ConsumerLogger:
        """A logger bound to this consumer and the current trace_id."""
        return self._log

    @property
    def metrics(self) -> Any:
        """The gateway's metrics facade."""
        return self._metrics

    async def subscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType | str]
    ) -> Ack:
        """Subscribe (idempotent); the Ack is ``ok`` or carries a clear ``error``."""
        return await self._control.request(
            {
                "kind": "subscribe",
                "consumer_id": self._consumer_id,
                "providers": tuple(providers),
                "symbols": tuple(symbols),
                "types": tuple(types),
            }
        )

    async def unsubscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType | str]
    ) -> Ack:
        """Unsubscribe; the Ack is ``ok`` or carries a clear ``error``."""
        return await self._control.request(
            {
                "kind": "unsubscribe",
                "consumer_id": self._consumer_id,
                "providers": tuple(providers),
                "symbols": tuple(symbols),
                "types": tuple(types),
            }
        )

    async def merged_subscribe(
        self,
        symbol: str,
        type: EventType | str,
        providers: Sequence[str],
        *,
        window_ms: int = 10_000,
        max_count: int = 1000,
    ) -> Ack:
        """Ask for MergedEvents of ``symbol``/``type`` from ``providers`` (design section 7).

        One MergedEvent per window of ``window_ms`` (venue event time) holding fragments
        from every provider; a window also closes at ``max_count`` fragments. The Ack is
        ``ok`` or carries a clear ``error`` (and then nothing changed).
        """
        return await self._control.request(
            {
                "kind": "merged_subscribe",
                "consumer_id": self._consumer_id,
                "symbol": symbol,
                "type": type,
                "providers": tuple(providers),
                "window_ms": window_ms,
                "max_count": max_count,
            }
        )

    async def merged_unsubscribe(self, symbol: str, type: EventType | str) -> Ack:
        """Stop the MergedEvents of ``symbol``/``type``; the Ack is ``ok`` or an ``error``."""
        return await self._control.request(
            {
                "kind": "merged_unsubscribe",
                "consumer_id": self._consumer_id,
                "symbol": symbol,
                "type": type,
            }
        )

    def subscriptions(self) -> list[StreamKey]:
        """The streams this consumer receives now."""
        return [] if self._subscriptions is None else self._subscriptions(self._consumer_id)

    async def submit_order(self, order: OrderRequest) -> OrderResult:
        """Submit through the order path; REJECTED when trading is not configured."""
        if order.consumer_id != self._consumer_id:
            return OrderResult(
                client_order_id=order.client_order_id,
                status=OrderStatus.REJECTED,
                reason="invalid",
                message=(
                    f"order consumer_id {order.consumer_id!r} is not this consumer "
                    f"({self._consumer_id!r})"
                ),
            )
        if self._orders is None:
            return OrderResult(
                client_order_id=order.client_order_id,
                status=OrderStatus.REJECTED,
                reason="trading_not_configured",
                message="trading is not configured in this gateway: no order service",
            )
        return await self._orders.submit(order)

    async def cancel_order(self, request: CancelRequest) -> CancelResult:
        """Cancel one of this consumer's orders."""
        if request.consumer_id != self._consumer_id:
            return CancelResult(
                client_order_id=request.client_order_id,
                ok=False,
                reason="invalid",
                message=f"cancel consumer_id {request.consumer_id!r} is not this consumer",
            )
        if self._orders is None:
            return CancelResult(
                client_order_id=request.client_order_id,
                ok=False,
                reason="trading_not_configured",
                message="trading is not configured in this gateway: no order service",
            )
        return await self._orders.cancel(request)

    def open_orders(self) -> list[OpenOrder]:
        """This consumer's open (or in-flight) orders, oldest first; [] without trading."""
        return [] if self._orders is None else self._orders.open_orders(self._consumer_id)

    async def cancel_all(
        self, provider: str | None = None, symbol: str | None = None
    ) -> list[CancelResult]:
        """Cancel every open order of this consumer (optionally one provider / symbol).

        One CancelResult per order it tried; [] when there is none or trading is not
        configured.
        """
        if self._orders is None:
            return []
        return await self._orders.cancel_all(self._consumer_id, provider=provider, symbol=symbol)

"""Resting user orders of one matching engine: per-side price levels with FIFO queues.

:class:`RestingBook` keeps price-time priority (sorted tick prices, one deque per price);
:class:`RestingOrder` is the engine's mutable view of one order (its latest event, limit in
ticks, size and filled lots, and the balance still locked for it).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from tradegw_core.schema.events import Side
from tradegw_core.sim.orders import ExecEvent

__all__ = ["RestingBook", "RestingOrder"]


class RestingOrder:
    """One live order: latest event, limit (ticks, None for market), lots, cum lots, lock."""

    __slots__ = ("cum_lots", "event", "lots", "reserved", "ticks")

    def __init__(self, event: ExecEvent, ticks: int | None, lots: int, reserved: Decimal) -> None:
        self.event = event
        self.ticks = ticks
        self.lots = lots
        self.cum_lots = 0
        self.reserved = reserved


class RestingBook:
    """Resting orders by side and tick price, best price first, oldest first within a price."""

    def __init__(self) -> None:
        self._levels: dict[Side, dict[int, deque[RestingOrder]]] = {Side.BUY: {}, Side.SELL: {}}
        self._prices: dict[Side, list[int]] = {Side.BUY: [], Side.SELL: []}

    def rest(self, order: RestingOrder) -> None:
        """Queue a limit order at the back of its price level."""
        assert order.ticks is not None
        side = order.event.side
        levels = self._levels[side]
        if order.ticks not in levels:
            levels[order.ticks] = deque()
            bisect.insort(self._prices[side], order.ticks)
        levels[order.ticks].append(order)

    def unrest(self, order: RestingOrder) -> None:
        """Take ``order`` off the book (nothing when it is not resting)."""
        side, ticks = order.event.side, order.ticks
        if ticks is None:
            return
        queue = self._levels[side].get(ticks)
        if queue is None or order not in queue:
            return
        queue.remove(order)
        if not queue:
            del self._levels[side][ticks]
            self._prices[side].remove(ticks)

    def top(self, side: Side) -> tuple[int, RestingOrder] | None:
        """The best price on ``side`` and the oldest order there, or None when empty."""
        prices = self._prices[side]
        if not prices:
            return None
        ticks = prices[-1 if side is Side.BUY else 0]
        return ticks, self._levels[side][ticks][0]

    def makers(self, taker: Side, limit: int | None) -> Iterator[tuple[int, RestingOrder]]:
        """(ticks, order) a ``taker`` order limited at ``limit`` could match, in priority order."""
        other = Side.SELL if taker is Side.BUY else Side.BUY
        best_first = self._prices[other] if taker is Side.BUY else reversed(self._prices[other])
        return (
            (p, o)
            for p in best_first
            if limit is None or (p <= limit if taker is Side.BUY else p >= limit)
            for o in self._levels[other][p]
        )

"""The order book structure every venue's assembler keeps (exact Decimal prices)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from tradegw_core.schema.events import Level

__all__ = ["BookView", "OrderBook"]


class BookView(Protocol):
    """Read access every assembler's book gives (``OrderBook``, ``TickBook``)."""

    def top_bids(self, n: int | None = None) -> list[Level]:
        """Best ``n`` bids (all when None), highest price first."""
        ...

    def top_asks(self, n: int | None = None) -> list[Level]:
        """Best ``n`` asks (all when None), lowest price first."""
        ...

    def best_bid(self) -> Level | None:
        """The highest bid, or None."""
        ...

    def best_ask(self) -> Level | None:
        """The lowest ask, or None."""
        ...


_ZERO = Decimal(0)


class OrderBook:
    """Two price -> qty maps with sorted views on demand.

    Updates are O(1) dict writes; ``top(n)`` costs O(len * log n), cheap for the depths
    venues stream (10-1000). ``max_depth`` truncates each side to the best ``max_depth``
    levels after every change, which Kraken's subscribed-depth rule needs.
    """

    __slots__ = ("asks", "bids", "max_depth")

    def __init__(self, max_depth: int | None = None) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.max_depth = max_depth

    def clear(self) -> None:
        """Forget every level (a resync replaces the book, never merges into it)."""
        self.bids.clear()
        self.asks.clear()

    def set_bid(self, price: Decimal, qty: Decimal) -> None:
        """Set or (qty 0) remove one bid level."""
        if qty == _ZERO:
            self.bids.pop(price, None)
        else:
            self.bids[price] = qty

    def set_ask(self, price: Decimal, qty: Decimal) -> None:
        """Set or (qty 0) remove one ask level."""
        if qty == _ZERO:
            self.asks.pop(price, None)
        else:
            self.asks[price] = qty

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book with a snapshot."""
        self.clear()
        for lv in bids:
            self.set_bid(lv.price, lv.qty)
        for lv in asks:
            self.set_ask(lv.price, lv.qty)
        self.truncate()

    def truncate(self) -> None:
        """Drop levels beyond ``max_depth`` on each side (worst prices first)."""
        depth = self.max_depth
        if depth is None:
            return
        if len(self.bids) > depth:
            for price in sorted(self.bids, reverse=True)[depth:]:
                del self.bids[price]
        if len(self.asks) > depth:
            for price in sorted(self.asks)[depth:]:
                del self.asks[price]

    def top_bids(self, n: int | None = None) -> list[Level]:
        """Best ``n`` bids (all when None), highest price first."""
        prices = sorted(self.bids, reverse=True) if n is None else heapq.nlargest(n, self.bids)
        return [Level(p, self.bids[p]) for p in prices]

    def top_asks(self, n: int | None = None) -> list[Level]:
        """Best ``n`` asks (all when None), lowest price first."""
        prices = sorted(self.asks) if n is None else heapq.nsmallest(n, self.asks)
        return [Level(p, self.asks[p]) for p in prices]

    def best_bid(self) -> Level | None:
        """The highest bid, or None."""
        if not self.bids:
            return None
        p = max(self.bids)
        return Level(p, self.bids[p])

    def best_ask(self) -> Level | None:
        """The lowest ask, or None."""
        if not self.asks:
            return None
        p = min(self.asks)
        return Level(p, self.asks[p])

    def diff_levels(self, other: OrderBook, depth: int | None = None) -> int:
        """How many of the top ``depth`` levels differ from ``other`` (reconciliation)."""
        mine = (self.top_bids(depth), self.top_asks(depth))
        theirs = (other.top_bids(depth), other.top_asks(depth))
        count = 0
        for a, b in zip(mine, theirs, strict=True):
            sa, sb = set(a), set(b)
            count += len(sa ^ sb)
        return count

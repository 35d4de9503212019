"""An order book keyed by exact integer ticks, with a cheap "never crossed" check.

Prices and quantities are whole multiples of ``10**-scale`` (``ticks * 10**-scale`` is the
exact value), so the hot path hashes and compares small ints instead of ``Decimal``
objects; :class:`~tradegw_core.schema.events.Level` values (Decimal) are made only where a
consumer sees them (:meth:`TickBook.top_bids`, :meth:`TickBook.best_bid`, ...).

Crossing: ``bid_ceiling`` is an upper bound of the best bid and ``ask_floor`` a lower bound
of the best ask. Setting a level can only move a bound outward; deleting one leaves the
bound valid (just loose). :meth:`TickBook.ask_at_or_below` / :meth:`TickBook.bid_at_or_above`
answer "would a bid at p / an ask at p cross?" by probing the few ticks between the bound
and ``p`` (``price_unit`` apart) and tighten the bound on the way, so a check costs a
comparison almost always and never a scan of the whole side unless the bound is far off.
"""

from __future__ import annotations

from decimal import Decimal

from tradegw_core.schema.events import Level

__all__ = ["TickBook"]

NO_ASK = 1 << 128
"""``ask_floor`` of an empty ask side (above any price a venue can send: > 10**38)."""
NO_BID = -1
"""``bid_ceiling`` of an empty bid side."""

_PROBE_STEPS = 64
"""Ticks probed one by one before a check falls back to scanning the side."""


class TickBook:
    """Bids and asks as ``{price_ticks: qty_ticks}`` at one decimal ``scale``.

    ``price_unit`` is the instrument's price step in ticks (every price is a multiple of
    it). Writers set levels straight into ``bids`` / ``asks`` and call :meth:`raise_bid` /
    :meth:`lower_ask` for each level they set with a positive quantity (or use
    :meth:`set_bid` / :meth:`set_ask`, which do both).
    """

    __slots__ = ("ask_floor", "asks", "bid_ceiling", "bids", "price_unit", "scale")

    def __init__(self, scale: int, price_unit: int = 1) -> None:
        if scale < 0 or price_unit < 1:
            raise ValueError(f"need scale >= 0 and price_unit >= 1 (got {scale}, {price_unit})")
        self.scale = scale
        self.price_unit = price_unit
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_ceiling = NO_BID
        self.ask_floor = NO_ASK

    def clear(self) -> None:
        """Forget every level (a resync replaces the book, never merges into it)."""
        self.bids.clear()
        self.asks.clear()
        self.bid_ceiling = NO_BID
        self.ask_floor = NO_ASK

    def set_bid(self, price: int, qty: int) -> None:
        """Set or (qty 0) remove one bid level."""
        if qty:
            self.bids[price] = qty
            if price > self.bid_ceiling:
                self.bid_ceiling = price
        else:
            self.bids.pop(price, None)

    def set_ask(self, price: int, qty: int) -> None:
        """Set or (qty 0) remove one ask level."""
        if qty:
            self.asks[price] = qty
            if price < self.ask_floor:
                self.ask_floor = price
        else:
            self.asks.pop(price, None)

    # -- crossing ------------------------------------------------------------------------
    def ask_at_or_below(self, price: int) -> bool:
        """True when some ask is priced at or below ``price`` (a bid there would cross)."""
        floor = self.ask_floor
        if price < floor:
            return False
        asks = self.asks
        unit = self.price_unit
        if (price - floor) // unit <= _PROBE_STEPS:
            tick = floor
            while tick <= price:
                if tick in asks:
                    self.ask_floor = tick
                    return True
                tick += unit
            self.ask_floor = price + unit
            return False
        best = min(asks, default=NO_ASK)
        self.ask_floor = best
        return best <= price

    def bid_at_or_above(self, price: int) -> bool:
        """True when some bid is priced at or above ``price`` (an ask there would cross)."""
        ceiling = self.bid_ceiling
        if price > ceiling:
            return False
        bids = self.bids
        unit = self.price_unit
        if (ceiling - price) // unit <= _PROBE_STEPS:
            tick = ceiling
            while tick >= price:
                if tick in bids:
                    self.bid_ceiling = tick
                    return True
                tick -= unit
            self.bid_ceiling = price - unit
            return False
        best = max(bids, default=NO_BID)
        self.bid_ceiling = best
        return best >= price

    def crossed(self) -> bool:
        """Exact check (a scan of both sides; tightens both bounds)."""
        best_bid = max(self.bids, default=NO_BID)
        best_ask = min(self.asks, default=NO_ASK)
        self.bid_ceiling = best_bid
        self.ask_floor = best_ask
        return best_bid >= best_ask

    # -- Levels for consumers ------------------------------------------------------------
    def value(self, ticks: int) -> Decimal:
        """The exact Decimal of ``ticks`` at this book's scale."""
        return Decimal(ticks).scaleb(-self.scale)

    def top_bids(self, n: int | None = None) -> list[Level]:
        """Best ``n`` bids (all when None), highest price first."""
        prices = sorted(self.bids, reverse=True)
        return self._levels(self.bids, prices if n is None else prices[:n])

    def top_asks(self, n: int | None = None) -> list[Level]:
        """Best ``n`` asks (all when None), lowest price first."""
        prices = sorted(self.asks)
        return self._levels(self.asks, prices if n is None else prices[:n])

    def best_bid(self) -> Level | None:
        """The highest bid, or None."""
        if not self.bids:
            return None
        price = max(self.bids)
        return Level(self.value(price), self.value(self.bids[price]))

    def best_ask(self) -> Level | None:
        """The lowest ask, or None."""
        if not self.asks:
            return None
        price = min(self.asks)
        return Level(self.value(price), self.value(self.asks[price]))

    def as_decimals(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """Both sides as ``{price: qty}`` Decimal maps (for comparisons and tests)."""
        value = self.value
        return (
            {value(p): value(q) for p, q in self.bids.items()},
            {value(p): value(q) for p, q in self.asks.items()},
        )

    def _levels(self, side: dict[int, int], prices: list[int]) -> list[Level]:
        exp = -self.scale
        return [Level(Decimal(p).scaleb(exp), Decimal(side[p]).scaleb(exp)) for p in prices]

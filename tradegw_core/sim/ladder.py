"""One venue's simulated ladder for one symbol: integer ticks and lots, re-centred each step.

The :class:`~tradegw_core.sim.market.MarketSimulator` owns one :class:`LadderBook` per
(venue, symbol) and moves it with :func:`recenter` and :func:`jitter`; both draw only from
the venue's seeded generator, so the same seed gives the same ladder.

This is the simulator's hot path (50k+ steps/s for benchmarks): work stays in ints, a level
becomes Decimal only when it is emitted, prices go through a bounded per-symbol cache of
``tick * ticks`` (shared by every venue's book of that symbol, see :class:`LadderBook`), and
changes are built straight into the output list without intermediate tuples or lists.

Every uniform int in [lo, hi] is drawn inline as ``lo + int(rng.random() * (hi - lo + 1))``
(one draw; ``Random.randint`` is 4x slower). Changing a draw changes what a seed produces:
``tests/sim/test_market_speed.py`` pins a seed's sequence to catch that.
"""

from __future__ import annotations

import random
from decimal import Decimal

from tradegw_core.schema.events import Side
from tradegw_core.sim.specs import LevelChange, SymbolSpec, VenueProfile

__all__ = ["PRICE_CACHE_MAX", "LadderBook", "jitter", "recenter", "within"]

PRICE_CACHE_MAX = 4096
"""Entries a price cache may hold before it is cleared (a random walk stays near its mid)."""

_BUY = Side.BUY
_SELL = Side.SELL
_new = tuple.__new__  # builds a LevelChange without the namedtuple's Python-level __new__


class LadderBook:
    """One venue's book for one symbol, in ticks and lots, with its ladder ranges.

    ``prices`` maps ticks to the Decimal price ``spec.tick * ticks``; pass the same dict to
    every book of one symbol to share it. Cached values are the very products the uncached
    path would compute, so caching never changes an emitted value.
    """

    __slots__ = (
        "asks",
        "bids",
        "center",
        "holes",
        "lot",
        "max_lots",
        "prices",
        "ranges",
        "seq",
        "spec",
        "tick",
        "trade_id",
        "zero",
    )

    def __init__(self, spec: SymbolSpec, prices: dict[int, Decimal] | None = None) -> None:
        self.spec = spec
        self.tick = spec.tick
        self.lot = spec.lot
        self.zero = spec.lot * 0
        self.max_lots = spec.max_level_lots
        self.prices: dict[int, Decimal] = {} if prices is None else prices
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.center = 0
        self.seq = 0
        self.trade_id = 0
        # (lo, hi) of the bid ladder and of the ask ladder; empty ranges before the first fill
        self.ranges: tuple[tuple[int, int], tuple[int, int]] = ((0, -1), (0, -1))
        self.holes: set[tuple[Side, int]] = set()

    def price(self, ticks: int) -> Decimal:
        """``spec.tick * ticks``, from the cache when possible."""
        prices = self.prices
        value = prices.get(ticks)
        if value is None:
            if len(prices) >= PRICE_CACHE_MAX:
                prices.clear()
            value = prices[ticks] = self.tick * ticks
        return value

    def remove(self, side: Side, price: int, lots: int) -> int:
        """Take ``lots`` at ``price``; returns what is left (a level at 0 is deleted)."""
        levels = self.bids if side is Side.BUY else self.asks
        left = levels[price] - lots
        if left:
            levels[price] = left
        else:
            del levels[price]
            self.holes.add((side, price))
        return left


def recenter(
    profile: VenueProfile, rng: random.Random, book: LadderBook, mid: int
) -> list[LevelChange]:
    """Move the ladder to the venue's mid; drop crossed or out-of-depth levels, fill holes.

    Only the prices that enter or leave the ladder (and holes left by trades) are
    touched, so a step costs O(shift), not O(depth). Changes come bids first, then asks;
    per side the dropped levels (ascending), then the filled ones (ascending).
    """
    noise = profile.noise_ticks
    center = mid + (-noise + int(rng.random() * (noise + noise + 1)) if noise else 0)
    book.center = center
    spread = profile.spread_ticks
    depth = profile.depth
    best_bid = center - spread // 2
    best_ask = best_bid + (spread if spread > 1 else 1)
    bid_lo = best_bid - depth + 1
    ask_hi = best_ask + depth - 1
    (old_bid_lo, old_bid_hi), (old_ask_lo, old_ask_hi) = book.ranges
    book.ranges = ((bid_lo, best_bid), (best_ask, ask_hi))
    prices = book.prices
    if len(prices) >= PRICE_CACHE_MAX:
        prices.clear()
    out: list[LevelChange] = []
    holes = book.holes
    _move(out, rng, book, _BUY, book.bids, bid_lo, best_bid, old_bid_lo, old_bid_hi, holes)
    _move(out, rng, book, _SELL, book.asks, best_ask, ask_hi, old_ask_lo, old_ask_hi, holes)
    if holes:
        holes.clear()
    return out


def _move(
    out: list[LevelChange],
    rng: random.Random,
    book: LadderBook,
    side: Side,
    levels: dict[int, int],
    lo: int,
    hi: int,
    old_lo: int,
    old_hi: int,
    holes: set[tuple[Side, int]],
) -> None:
    """One side of :func:`recenter`: drop levels outside [lo, hi], fill the new ones."""
    prices = book.prices
    tick = book.tick
    lot = book.lot
    disjoint = old_hi < lo or old_lo > hi
    gone: range | list[int]
    fill: range | list[int]
    if disjoint or lo > hi:
        gone = range(old_lo, old_hi + 1)
    else:
        gone = [*range(old_lo, lo), *range(hi + 1, old_hi + 1)]
    if disjoint or old_lo > old_hi:
        fill = range(lo, hi + 1)
    else:
        fill = [*range(lo, old_lo), *range(old_hi + 1, hi + 1)]
    if gone:
        pop = levels.pop
        zero = book.zero
        for price in gone:
            if pop(price, None) is not None:
                value = prices.get(price)
                if value is None:
                    value = prices[price] = tick * price
                out.append(_new(LevelChange, (side, value, zero)))
    if holes:
        extra = [p for s, p in holes if s is side and lo <= p <= hi]
        if extra:
            fill = sorted({*fill, *extra})
    if fill:
        random_ = rng.random
        span = book.max_lots
        for price in fill:
            if price not in levels:
                lots = levels[price] = 1 + int(random_() * span)
                value = prices.get(price)
                if value is None:
                    value = prices[price] = tick * price
                out.append(_new(LevelChange, (side, value, lot * lots)))


def jitter(profile: VenueProfile, rng: random.Random, book: LadderBook) -> list[LevelChange]:
    """Resize one random level near the centre (nothing when the drawn price is empty).

    The level is drawn within ``profile.jitter_ticks`` of the centre (default: the whole
    depth), so a deep book can still move at its top.
    """
    if rng.random() < 0.5:
        levels, side = book.bids, _BUY
    else:
        levels, side = book.asks, _SELL
    depth = profile.jitter_ticks or profile.depth
    price = book.center - depth + int(rng.random() * (depth + depth + 1))
    if price not in levels:
        return []
    lots = levels[price] = 1 + int(rng.random() * book.max_lots)
    return [_new(LevelChange, (side, book.price(price), book.lot * lots))]


def within(side: Side, price: int, limit: int) -> bool:
    """True when a level on ``side`` at ``price`` is acceptable for a taker limited at ``limit``."""
    return price >= limit if side is Side.BUY else price <= limit

"""One venue's simulated ladder for one symbol: integer ticks and lots, re-centred each step.

The :class:`~tradegw_core.sim.market.MarketSimulator` owns one :class:`LadderBook` per
(venue, symbol) and moves it with :func:`recenter` and :func:`jitter`; both draw only from
the venue's seeded generator, so the same seed gives the same ladder.
"""

from __future__ import annotations

import random

from tradegw_core.schema.events import Side
from tradegw_core.sim.specs import LevelChange, SymbolSpec, VenueProfile

__all__ = ["LadderBook", "jitter", "level_changes", "randint", "recenter", "within"]


class LadderBook:
    """One venue's book for one symbol, in ticks and lots, with its ladder ranges."""

    __slots__ = ("asks", "bids", "center", "holes", "max_lots", "ranges", "seq", "spec", "trade_id")

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.max_lots = spec.max_level_lots
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.center = 0
        self.seq = 0
        self.trade_id = 0
        # (lo, hi) of the bid ladder and of the ask ladder; empty ranges before the first fill
        self.ranges: tuple[tuple[int, int], tuple[int, int]] = ((0, -1), (0, -1))
        self.holes: set[tuple[Side, int]] = set()

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
    touched, so a step costs O(shift), not O(depth).
    """
    noise = profile.noise_ticks
    center = mid + (randint(rng, -noise, noise) if noise else 0)
    book.center = center
    best_bid = center - profile.spread_ticks // 2
    best_ask = best_bid + max(1, profile.spread_ticks)
    new = ((best_bid - profile.depth + 1, best_bid), (best_ask, best_ask + profile.depth - 1))
    raw: list[tuple[Side, int, int]] = []
    for side, levels, (lo, hi), (old_lo, old_hi) in (
        (Side.BUY, book.bids, new[0], book.ranges[0]),
        (Side.SELL, book.asks, new[1], book.ranges[1]),
    ):
        for price in _outside(old_lo, old_hi, lo, hi):
            if levels.pop(price, None) is not None:
                raw.append((side, price, 0))
        fill = _outside(lo, hi, old_lo, old_hi)
        if book.holes:
            fill.extend(p for s, p in book.holes if s is side and lo <= p <= hi)
            fill = sorted(set(fill))
        for price in fill:
            if price not in levels:
                lots = levels[price] = randint(rng, 1, book.max_lots)
                raw.append((side, price, lots))
    book.ranges = new
    book.holes.clear()
    return level_changes(book.spec, raw)


def jitter(profile: VenueProfile, rng: random.Random, book: LadderBook) -> list[LevelChange]:
    """Resize one random level near the centre (nothing when the drawn price is empty)."""
    levels = book.bids if rng.random() < 0.5 else book.asks
    side = Side.BUY if levels is book.bids else Side.SELL
    price = book.center + randint(rng, -profile.depth, profile.depth)
    if price not in levels:
        return []
    lots = levels[price] = randint(rng, 1, book.max_lots)
    return level_changes(book.spec, [(side, price, lots)])


def within(side: Side, price: int, limit: int) -> bool:
    """True when a level on ``side`` at ``price`` is acceptable for a taker limited at ``limit``."""
    return price >= limit if side is Side.BUY else price <= limit


def _outside(lo: int, hi: int, keep_lo: int, keep_hi: int) -> list[int]:
    """Prices in [lo, hi] that are not in [keep_lo, keep_hi]."""
    if keep_lo > keep_hi or keep_hi < lo or keep_lo > hi:
        return list(range(lo, hi + 1))
    return [*range(lo, keep_lo), *range(keep_hi + 1, hi + 1)]


def level_changes(spec: SymbolSpec, raw: list[tuple[Side, int, int]]) -> list[LevelChange]:
    """(side, ticks, lots) triples as Decimal :class:`LevelChange` values."""
    tick, lot = spec.tick, spec.lot
    return [LevelChange(s, tick * p, lot * q) for s, p, q in raw]


def randint(rng: random.Random, lo: int, hi: int) -> int:
    """A uniform int in [lo, hi] from one ``random()`` draw (randint is 4x slower)."""
    return lo + int(rng.random() * (hi - lo + 1))

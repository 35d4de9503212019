"""The market simulator: one seeded mid-price walk per symbol, one evolving book per venue.

Everything is integer ticks and lots inside (fast, exact) and Decimal on the way out.
A *step* moves the mid of one symbol (chosen by the seeded generator) by a few ticks, then
every venue re-centres its book around that mid plus its own noise, jitters one level and
maybe prints a trade. The same seed and the same sequence of calls give the same events;
the async driver :meth:`MarketSimulator.run` only decides *when* steps happen, never what
they contain. Timestamps are logical: ``start_ns + step * step_ns`` (+ the venue latency);
:meth:`MarketSimulator.run` re-anchors ``start_ns`` on the clock so that, while it drives,
they follow wall time.

Example::

    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=7, rate=20)
    sim.add_venue(VenueProfile("binance", spread_ticks=1))
    unsubscribe = sim.subscribe(print, venue="binance")
    sim.events(3)                              # three steps, also delivered to print
    book = sim.book("binance", "BTC-USDT")     # BookSnapshot for a REST snapshot answer
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

import anyio

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.schema.events import Side
from tradegw_core.sim.ladder import LadderBook, jitter, recenter, within
from tradegw_core.sim.specs import (
    BookDelta,
    BookSnapshot,
    LevelChange,
    MarketEvent,
    MarketListener,
    SimTrade,
    SymbolSpec,
    VenueProfile,
    default_symbol_spec,
)

log = logging.getLogger(__name__)

__all__ = [
    "BookDelta",
    "BookSnapshot",
    "LevelChange",
    "MarketEvent",
    "MarketListener",
    "MarketSimulator",
    "SimTrade",
    "SymbolSpec",
    "VenueProfile",
    "default_symbol_spec",
]

_MIN_MID_TICKS = 1000

_VenueRow = tuple[str, VenueProfile, random.Random, LadderBook, int]


class MarketSimulator:
    """Shared seeded market: mid walks per symbol, per-venue books, trades, listeners.

    ``rate`` is steps per second for :meth:`run`; each step yields one book delta per
    venue (when something changed) and a trade with the venue's ``trade_prob``.
    """

    def __init__(
        self,
        symbols: Iterable[SymbolSpec],
        *,
        seed: int = 0,
        rate: float = 5.0,
        start_ns: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in symbols}
        if not self.specs:
            raise ValueError("a market simulator needs at least one symbol")
        if rate <= 0:
            raise ValueError(f"rate must be > 0 steps/s, got {rate}")
        self.seed = seed
        self.rate = rate
        self.step_ns = max(1, int(1_000_000_000 / rate))
        self._clock: Clock = clock or SystemClock()
        self.start_ns = self._clock.time_ns() if start_ns is None else start_ns
        self.step_count = 0
        self.skipped_steps = 0
        """Steps :meth:`run` skipped because it fell more than ``max_batch`` behind."""
        self.skip_warn_interval_s = 10.0
        self._skip_warned_at: float | None = None
        self._unreported_skips = 0
        self._rng = random.Random(seed)
        self._order = list(self.specs)
        self._mid = {s.symbol: int(s.price / s.tick) for s in self.specs.values()}
        self._profiles: dict[str, VenueProfile] = {}
        self._vrng: dict[str, random.Random] = {}
        self._books: dict[tuple[str, str], LadderBook] = {}
        # per symbol: one price cache shared by its books, and the (venue, profile, rng,
        # book, latency_ns) rows step() walks, so the hot loop does no dict lookups
        self._prices: dict[str, dict[int, Decimal]] = {s: {} for s in self._order}
        self._rows: dict[str, list[_VenueRow]] = {s: [] for s in self._order}
        self._listeners: list[tuple[str | None, MarketListener]] = []
        # drained before _emit returns: holds at most the events of one step plus what its
        # listeners cause (re-entrant emissions are queued, not recursed), so it needs no cap
        self._pending: deque[MarketEvent] = deque()
        self._dispatching = False

    # ------------------------------------------------------------------ set-up
    def add_venue(self, profile: VenueProfile) -> None:
        """Give ``profile.name`` its own books (a second add with the same name is ignored)."""
        if profile.name in self._profiles:
            return
        self._profiles[profile.name] = profile
        rng = self._vrng[profile.name] = random.Random(f"{self.seed}:{profile.name}")
        latency_ns = profile.latency_ms * 1_000_000
        for symbol in self._order:
            book = LadderBook(self.specs[symbol], self._prices[symbol])
            self._books[(profile.name, symbol)] = book
            self._rows[symbol].append((profile.name, profile, rng, book, latency_ns))
            recenter(profile, rng, book, self._mid[symbol])

    @property
    def venues(self) -> list[str]:
        """Venue names in the order they were added."""
        return list(self._profiles)

    def subscribe(
        self, listener: MarketListener, *, venue: str | None = None
    ) -> Callable[[], None]:
        """Call ``listener`` for every event (of ``venue`` only, if given); returns unsubscribe.

        Listeners run synchronously inside :meth:`step`; events a listener causes (for
        example a matching engine taking liquidity) are delivered after the current one.
        """
        entry = (venue, listener)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    # ------------------------------------------------------------------ queries
    def mid(self, symbol: str) -> Decimal:
        """The shared mid price of ``symbol``."""
        return self.specs[symbol].tick * self._mid[symbol]

    def book(self, venue: str, symbol: str, depth: int | None = None) -> BookSnapshot:
        """The venue's current book for ``symbol`` (best first, at most ``depth`` levels)."""
        book = self._books[(venue, symbol)]
        spec = self.specs[symbol]
        bids = sorted(book.bids.items(), reverse=True)[:depth]
        asks = sorted(book.asks.items())[:depth]
        return BookSnapshot(
            venue,
            symbol,
            book.seq,
            self._ts(venue),
            tuple((spec.tick * p, spec.lot * q) for p, q in bids),
            tuple((spec.tick * p, spec.lot * q) for p, q in asks),
        )

    def best(self, venue: str, symbol: str, side: Side) -> tuple[int, int] | None:
        """Best (ticks, lots) on ``side`` (BUY: bids, SELL: asks), or None when empty."""
        levels = self._side(venue, symbol, side)
        if not levels:
            return None
        price = max(levels) if side is Side.BUY else min(levels)
        return price, levels[price]

    # ------------------------------------------------------------------ stepping
    def step(self) -> list[MarketEvent]:
        """Advance one step; deliver and return its events."""
        step = self.step_count = self.step_count + 1
        rng = self._rng
        order = self._order
        symbol = order[rng.randrange(len(order))]
        vol = self.specs[symbol].vol_ticks
        mid = max(_MIN_MID_TICKS, self._mid[symbol] - vol + int(rng.random() * (vol + vol + 1)))
        self._mid[symbol] = mid
        base_ns = self.start_ns + step * self.step_ns
        out: list[MarketEvent] = []
        for name, profile, vrng, book, latency_ns in self._rows[symbol]:
            changes = recenter(profile, vrng, book, mid)
            changes.extend(jitter(profile, vrng, book))
            if changes:
                book.seq += 1
                out.append(
                    BookDelta(name, symbol, book.seq, step, base_ns + latency_ns, tuple(changes))
                )
            if vrng.random() < profile.trade_prob:
                out.extend(self._market_trade(name, symbol, vrng, book))
        if self._listeners or self._dispatching:
            self._emit(out)
        else:
            self._pending.clear()  # what _emit would do with nobody listening
        return out

    def events(self, n: int) -> list[MarketEvent]:
        """Run ``n`` steps and return all their events."""
        out: list[MarketEvent] = []
        for _ in range(n):
            out.extend(self.step())
        return out

    async def run(self, rate: float | None = None, *, max_batch: int = 5_000) -> None:
        """Step forever at ``rate`` steps/s (default ``self.rate``), in batches.

        Overflow policy ``skip``: when more than ``max_batch`` steps are overdue (the loop
        was starved), the backlog beyond ``max_batch`` is skipped rather than replayed
        (timestamps jump over the skipped steps, so they keep following the clock). The
        skipped steps are counted in ``skipped_steps`` and logged as a warning (at most one
        per ``skip_warn_interval_s`` of loop time, with the count since the last one).
        """
        if rate is not None:
            self.rate, self.step_ns = rate, max(1, int(1_000_000_000 / rate))
        rate = self.rate
        self.start_ns = self._clock.time_ns() - self.step_count * self.step_ns
        start = anyio.current_time()
        done = 0
        while True:
            due = int((anyio.current_time() - start) * rate) - done
            if due > max_batch:
                skipped = due - max_batch
                done += skipped
                self.start_ns += skipped * self.step_ns
                due = max_batch
                self._note_skipped(skipped)
            for _ in range(due):
                self.step()
            done += due
            next_at = start + (done + 1) / rate
            await anyio.sleep(max(next_at - anyio.current_time(), 0.0005))

    def _note_skipped(self, skipped: int) -> None:
        self.skipped_steps += skipped
        self._unreported_skips += skipped
        now = anyio.current_time()
        if self._skip_warned_at is None or now - self._skip_warned_at >= self.skip_warn_interval_s:
            log.warning(
                "market simulator fell behind at %.0f steps/s: skipped %d steps (%d in total)",
                self.rate,
                self._unreported_skips,
                self.skipped_steps,
            )
            self._skip_warned_at, self._unreported_skips = now, 0

    # ------------------------------------------------------------------ liquidity
    def peek(
        self, venue: str, symbol: str, side: Side, limit: int | None, lots: int
    ) -> list[tuple[int, int]]:
        """Fills (ticks, lots) that taking up to ``lots`` from ``side`` would give.

        ``side`` is the book side taken (SELL: asks, for a buy order); ``limit`` is the
        worst price in ticks, None for no limit. Nothing changes.
        """
        levels = self._side(venue, symbol, side)
        prices = sorted(levels, reverse=side is Side.BUY)
        out: list[tuple[int, int]] = []
        for price in prices:
            if lots <= 0 or (limit is not None and not within(side, price, limit)):
                break
            take = min(lots, levels[price])
            out.append((price, take))
            lots -= take
        return out

    def take(
        self, venue: str, symbol: str, side: Side, limit: int | None, lots: int
    ) -> list[tuple[int, int]]:
        """Like :meth:`peek`, but consume the liquidity and publish the book change."""
        fills = self.peek(venue, symbol, side, limit, lots)
        if fills:
            book = self._books[(venue, symbol)]
            spec = book.spec
            changes = []
            for price, qty in fills:
                left = book.remove(side, price, qty)
                changes.append(LevelChange(side, spec.tick * price, spec.lot * left))
            self._emit([self._delta(venue, symbol, book, changes)])
        return fills

    def record_trade(self, venue: str, symbol: str, price: int, lots: int, aggressor: Side) -> int:
        """Publish a user trade (price in ticks, size in lots); returns its trade id."""
        book = self._books[(venue, symbol)]
        book.trade_id += 1
        spec = self.specs[symbol]
        trade = SimTrade(
            venue,
            symbol,
            book.trade_id,
            self.step_count,
            self._ts(venue),
            spec.tick * price,
            spec.lot * lots,
            aggressor,
            "user",
        )
        self._emit([trade])
        return book.trade_id

    def last_trade_id(self, venue: str, symbol: str) -> int:
        """The id of the venue's last trade in ``symbol`` (0 before the first)."""
        return self._books[(venue, symbol)].trade_id

    def advance_trade_id(self, venue: str, symbol: str, at_least: int) -> None:
        """Make the venue's next trade ids in ``symbol`` follow ``at_least`` (a restart)."""
        book = self._books[(venue, symbol)]
        book.trade_id = max(book.trade_id, at_least)

    # ------------------------------------------------------------------ internals
    def _side(self, venue: str, symbol: str, side: Side) -> dict[int, int]:
        book = self._books[(venue, symbol)]
        return book.bids if side is Side.BUY else book.asks

    def _ts(self, venue: str) -> int:
        latency = self._profiles[venue].latency_ms * 1_000_000
        return self.start_ns + self.step_count * self.step_ns + latency

    def _delta(
        self, venue: str, symbol: str, book: LadderBook, changes: Sequence[LevelChange]
    ) -> BookDelta:
        book.seq += 1
        return BookDelta(venue, symbol, book.seq, self.step_count, self._ts(venue), tuple(changes))

    def _market_trade(
        self, venue: str, symbol: str, rng: random.Random, book: LadderBook
    ) -> list[MarketEvent]:
        if rng.random() < 0.5:
            aggressor, side, levels = Side.BUY, Side.SELL, book.asks
        else:
            aggressor, side, levels = Side.SELL, Side.BUY, book.bids
        if not levels:
            return []
        price = min(levels) if aggressor is Side.BUY else max(levels)
        lots = 1 + int(rng.random() * levels[price])
        left = book.remove(side, price, lots)
        book.trade_id += 1
        ts = self._ts(venue)
        value = book.price(price)
        lot = book.lot
        trade = SimTrade(
            venue, symbol, book.trade_id, self.step_count, ts, value, lot * lots, aggressor
        )
        book.seq += 1
        change = LevelChange(side, value, lot * left)
        return [trade, BookDelta(venue, symbol, book.seq, self.step_count, ts, (change,))]

    def _emit(self, events: list[MarketEvent]) -> None:
        self._pending.extend(events)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                event = self._pending.popleft()
                for venue, listener in list(self._listeners):
                    if venue is None or venue == event.venue:
                        listener(event)
        finally:
            self._dispatching = False

"""What the demo's view reads: a tap consumer on every venue and the figures it keeps.

:class:`DemoTap` is an ordinary consumer (the gateway runs it like any strategy) that
subscribes to book, trade and ticker events of the demo symbols on every venue and keeps,
per (venue, symbol), the top of book, the last trade, event counts and the time from frame
receipt (``ts_ingest``) to the consumer. :class:`MarketRow` is that state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import anyio

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    Side,
    Ticker,
    Trade,
)

__all__ = ["TAP_CONSUMER", "TAP_TYPES", "DemoTap", "MarketRow"]

TAP_CONSUMER = "demo-view"
"""The tap's consumer name in ``gateway.consumers``."""

TAP_TYPES = (EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE, EventType.TRADE, EventType.TICKER)


@dataclass(slots=True)
class MarketRow:
    """The view's state of one venue and symbol."""

    venue: str
    symbol: str
    book: OrderBook = field(default_factory=OrderBook)
    bid: Decimal | None = None
    ask: Decimal | None = None
    last_price: Decimal | None = None
    last_qty: Decimal | None = None
    last_side: Side | None = None
    events: int = 0
    trades: int = 0
    snapshots: int = 0
    updates: int = 0
    """Book updates (BookUpdate); ``snapshots`` counts BookSnapshot."""
    lag_ns: int = 0
    """ts_ingest -> consumer of the newest event (0 when unknown)."""
    max_lag_ns: int = 0
    """The largest lag since :meth:`DemoTap.take_max_lag` last reset it."""

    @property
    def spread(self) -> Decimal | None:
        """``ask - bid`` when both are known."""
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid


class DemoTap:
    """A consumer that feeds the demo's view (see the module docstring)."""

    def __init__(self, venues: Sequence[str], symbols: Sequence[str]) -> None:
        self.venues = tuple(venues)
        self.symbols = tuple(symbols)
        self.rows: dict[tuple[str, str], MarketRow] = {
            (v, s): MarketRow(v, s) for v in self.venues for s in self.symbols
        }
        self.subscribe_error = ""
        self._ctx: ConsumerContext | None = None
        self._changed = anyio.Event()

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Subscribe to every venue and symbol of the demo."""
        self._ctx = ctx
        if not self.venues or not self.symbols:
            return
        ack = await ctx.subscribe(self.venues, self.symbols, TAP_TYPES)
        if not getattr(ack, "ok", False):
            self.subscribe_error = str(getattr(ack, "error", ack))

    async def on_event(self, event: Event) -> None:
        """Update the row of the event's venue and symbol."""
        key = (event.provider, event.symbol)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = MarketRow(*key)
        row.events += 1
        self._changed.set()
        if event.ts_ingest and self._ctx is not None:
            row.lag_ns = max(0, self._ctx.clock.monotonic_ns() - event.ts_ingest)
            row.max_lag_ns = max(row.max_lag_ns, row.lag_ns)
        if isinstance(event, BookSnapshot):
            row.snapshots += 1
            row.book.load(event.bids, event.asks)
            self._top_from_book(row)
        elif isinstance(event, BookUpdate):
            row.updates += 1
            for level in event.bids:
                row.book.set_bid(level.price, level.qty)
            for level in event.asks:
                row.book.set_ask(level.price, level.qty)
            self._top_from_book(row)
        elif isinstance(event, Trade):
            row.trades += 1
            row.last_price, row.last_qty, row.last_side = event.price, event.qty, event.side
        elif isinstance(event, Ticker):
            if not row.snapshots:  # the book is the better source once there is one
                row.bid = event.bid_price if event.bid_price is not None else row.bid
                row.ask = event.ask_price if event.ask_price is not None else row.ask
            if row.last_price is None and event.last_price is not None:
                row.last_price = event.last_price

    async def on_exec_report(self, report: ExecReport) -> None:
        """The tap places no orders."""

    async def on_stop(self) -> None:
        """Nothing to release."""

    async def wait_until(self, predicate: Callable[[DemoTap], bool]) -> None:
        """Return once ``predicate(self)`` holds (checked after every event)."""
        while not predicate(self):
            self._changed = anyio.Event()
            await self._changed.wait()

    def events_by_venue(self) -> dict[str, int]:
        """Market-data events received per venue."""
        out = dict.fromkeys(self.venues, 0)
        for (venue, _), row in self.rows.items():
            out[venue] = out.get(venue, 0) + row.events
        return out

    def books_by_venue(self) -> dict[str, int]:
        """Book snapshots and updates received per venue."""
        out = dict.fromkeys(self.venues, 0)
        for (venue, _), row in self.rows.items():
            out[venue] = out.get(venue, 0) + row.snapshots + row.updates
        return out

    def trades_by_venue(self) -> dict[str, int]:
        """Trades received per venue."""
        out = dict.fromkeys(self.venues, 0)
        for (venue, _), row in self.rows.items():
            out[venue] = out.get(venue, 0) + row.trades
        return out

    def take_max_lag(self) -> dict[tuple[str, str], int]:
        """The largest lag per row since the previous call, then reset."""
        out: dict[tuple[str, str], int] = {}
        for key, row in self.rows.items():
            out[key] = row.max_lag_ns
            row.max_lag_ns = 0
        return out

    @staticmethod
    def _top_from_book(row: MarketRow) -> None:
        bid, ask = row.book.best_bid(), row.book.best_ask()
        row.bid = bid.price if bid is not None else None
        row.ask = ask.price if ask is not None else None

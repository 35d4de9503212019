"""The ``spread`` consumer: the best cross-venue spread of one symbol across several venues.

A model of a read-only strategy. It subscribes to the same symbols on every configured
provider, keeps each venue's top of book (from ``BookSnapshot``/``BookUpdate``, or from
``Ticker`` when a venue sends best bid/ask there), and after every event recomputes, per
symbol, the highest bid and the lowest ask over all venues. The result is

* kept in :attr:`SpreadConsumer.latest` (what the demo's live view shows),
* exported as gauges ``tradegw_example_cross_spread`` (quote currency) and
  ``tradegw_example_cross_spread_bps`` labelled by symbol, through ``ctx.metrics``,
* logged (``spread.cross``) at most once per ``log_interval_s`` per symbol, and at once
  when the venues cross (best bid above best ask: an arbitrage signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    Ticker,
)

__all__ = ["CrossSpread", "SpreadConsumer", "SpreadSettings", "TopOfBook"]

_BPS = Decimal(10_000)


class SpreadSettings(BaseModel):
    """``[consumers.spread]``: which venues and symbols to compare."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: tuple[str, ...] = ("binance", "coinbase", "kraken")
    """Venues to compare (each must be enabled in ``gateway.providers``)."""
    symbols: tuple[str, ...] = ("BTC-USDT",)
    """Canonical symbols, subscribed on every venue."""
    types: tuple[EventType, ...] = (EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE)
    """Where the top of book comes from: book events and/or ``Ticker``."""
    log_interval_s: float = Field(default=5.0, ge=0)
    """At most one ``spread.cross`` log line per symbol per interval (crossings: always)."""


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """One venue's best bid and ask for one symbol."""

    bid: Decimal | None
    ask: Decimal | None


@dataclass(frozen=True, slots=True)
class CrossSpread:
    """The best bid and best ask of one symbol over every venue that has both sides."""

    symbol: str
    bid_venue: str
    bid: Decimal
    ask_venue: str
    ask: Decimal

    @property
    def spread(self) -> Decimal:
        """``ask - bid``; negative when the venues cross."""
        return self.ask - self.bid

    @property
    def spread_bps(self) -> Decimal:
        """The spread in basis points of the mid."""
        mid = (self.bid + self.ask) / 2
        return (self.spread / mid * _BPS).quantize(Decimal("0.01"))

    @property
    def crossed(self) -> bool:
        """True when one venue bids above another's ask."""
        return self.bid > self.ask


class SpreadConsumer:
    """Watches the best cross-venue spread (see the module docstring)."""

    def __init__(self, settings: SpreadSettings | None = None) -> None:
        self.settings = settings if settings is not None else SpreadSettings()
        self.books: dict[tuple[str, str], OrderBook] = {}
        self.tops: dict[tuple[str, str], TopOfBook] = {}
        """(provider, symbol) -> that venue's top of book."""
        self.latest: dict[str, CrossSpread] = {}
        """symbol -> the newest cross-venue spread."""
        self.crossings = 0
        self._ctx: ConsumerContext | None = None
        self._logged_ns: dict[str, int] = {}

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Subscribe to the configured symbols on every configured venue."""
        self._ctx = ctx
        s = self.settings
        ack = await ctx.subscribe(s.providers, s.symbols, s.types)
        if not ack.ok:
            ctx.log.error("spread.subscribe_failed", extra={"error": ack.error})

    async def on_event(self, event: Event) -> None:
        """Update the venue's top of book, then the symbol's cross-venue spread."""
        key = (event.provider, event.symbol)
        if isinstance(event, BookSnapshot | BookUpdate):
            book = self.books.get(key)
            if book is None or isinstance(event, BookSnapshot):
                book = self.books[key] = OrderBook()
            if isinstance(event, BookSnapshot):
                book.load(event.bids, event.asks)
            else:
                for level in event.bids:
                    book.set_bid(level.price, level.qty)
                for level in event.asks:
                    book.set_ask(level.price, level.qty)
            bid, ask = book.best_bid(), book.best_ask()
            self.tops[key] = TopOfBook(
                bid.price if bid is not None else None, ask.price if ask is not None else None
            )
        elif isinstance(event, Ticker):
            if event.bid_price is None and event.ask_price is None:
                return
            self.tops[key] = TopOfBook(event.bid_price, event.ask_price)
        else:
            return
        self._update(event.symbol)

    async def on_exec_report(self, report: ExecReport) -> None:
        """The watcher never trades."""

    async def on_stop(self) -> None:
        """Log the last spread of every symbol."""
        if self._ctx is not None:
            for cross in self.latest.values():
                self._log(cross, "spread.final")

    def _update(self, symbol: str) -> None:
        cross = best_cross(symbol, self.tops)
        if cross is None:
            return
        previous = self.latest.get(symbol)
        self.latest[symbol] = cross
        ctx = self._ctx
        if ctx is None:
            return
        metrics = ctx.metrics
        if metrics is not None:
            metrics.set("tradegw_example_cross_spread", float(cross.spread), symbol=symbol)
            metrics.set("tradegw_example_cross_spread_bps", float(cross.spread_bps), symbol=symbol)
        now = ctx.clock.monotonic_ns()
        newly_crossed = cross.crossed and not (previous is not None and previous.crossed)
        if newly_crossed:
            self.crossings += 1
        due = now - self._logged_ns.get(symbol, -(10**18)) >= self.settings.log_interval_s * 1e9
        if newly_crossed or due:
            self._logged_ns[symbol] = now
            self._log(cross, "spread.cross")

    def _log(self, cross: CrossSpread, message: str) -> None:
        assert self._ctx is not None
        fields: dict[str, Any] = {
            "symbol": cross.symbol,
            "bid_venue": cross.bid_venue,
            "bid": str(cross.bid),
            "ask_venue": cross.ask_venue,
            "ask": str(cross.ask),
            "spread": str(cross.spread),
            "spread_bps": str(cross.spread_bps),
            "crossed": cross.crossed,
        }
        self._ctx.log.info(message, extra=fields)


def best_cross(symbol: str, tops: dict[tuple[str, str], TopOfBook]) -> CrossSpread | None:
    """The highest bid and lowest ask of ``symbol`` over ``tops``; None until both exist."""
    best_bid: tuple[Decimal, str] | None = None
    best_ask: tuple[Decimal, str] | None = None
    for (venue, sym), top in sorted(tops.items()):
        if sym != symbol:
            continue
        if top.bid is not None and (best_bid is None or top.bid > best_bid[0]):
            best_bid = (top.bid, venue)
        if top.ask is not None and (best_ask is None or top.ask < best_ask[0]):
            best_ask = (top.ask, venue)
    if best_bid is None or best_ask is None:
        return None
    return CrossSpread(symbol, best_bid[1], best_bid[0], best_ask[1], best_ask[0])

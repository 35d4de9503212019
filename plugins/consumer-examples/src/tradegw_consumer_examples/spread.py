"""The ``spread`` consumer: the best cross-venue spread of one symbol across several venues.

A model of a read-only strategy built on a **merged subscription** (design section 7). For
each configured symbol it sends one ``MergedSubscribe`` for ``Ticker`` events from every
configured venue, so the gateway hands it one ``MergedEvent`` per time window (``window_ms``
of venue time) in which *every* venue sent a ticker; windows missing a venue never reach it
(the gateway counts them as suppressed). From each MergedEvent it takes every venue's
latest best bid/ask in the window and computes the highest bid and the lowest ask over all
venues: it acts only on complete windows, so a venue that went quiet can never leave a
stale quote in the comparison. The result is

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

from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import Event, EventType, ExecReport, MergedEvent, Ticker

__all__ = ["CrossSpread", "SpreadConsumer", "SpreadSettings", "TopOfBook"]

_BPS = Decimal(10_000)


class SpreadSettings(BaseModel):
    """``[consumers.spread]``: which venues and symbols to compare, and the merge window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: tuple[str, ...] = ("binance", "coinbase", "kraken")
    """Venues to compare (at least two, each enabled in ``gateway.providers``)."""
    symbols: tuple[str, ...] = ("BTC-USDT",)
    """Canonical symbols; one merged ticker subscription each."""
    window_ms: int = Field(default=5000, ge=10, le=3_600_000)
    """Merge window (venue time): one comparison per window in which every venue ticked."""
    max_count: int = Field(default=1000, ge=2, le=100_000)
    """Tickers a window may hold before it closes early."""
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
        self.tops: dict[tuple[str, str], TopOfBook] = {}
        """(provider, symbol) -> that venue's top of book in the newest complete window."""
        self.latest: dict[str, CrossSpread] = {}
        """symbol -> the newest cross-venue spread."""
        self.windows = 0
        """Complete merge windows acted on."""
        self.crossings = 0
        self._ctx: ConsumerContext | None = None
        self._logged_ns: dict[str, int] = {}

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Ask for merged tickers of every configured symbol from every configured venue."""
        self._ctx = ctx
        s = self.settings
        for symbol in s.symbols:
            ack = await ctx.merged_subscribe(
                symbol, EventType.TICKER, s.providers, window_ms=s.window_ms, max_count=s.max_count
            )
            if not ack.ok:
                ctx.log.error(
                    "spread.subscribe_failed", extra={"symbol": symbol, "error": ack.error}
                )

    async def on_event(self, event: Event) -> None:
        """Take one complete window of tickers: each venue's latest top, then the spread."""
        if not isinstance(event, MergedEvent) or event.merge_type is not EventType.TICKER:
            return
        tops: dict[tuple[str, str], TopOfBook] = {}
        for venue, fragments in event.fragments.items():
            for ticker in reversed(fragments):  # newest first: its latest quote with a side
                if isinstance(ticker, Ticker) and (
                    ticker.bid_price is not None or ticker.ask_price is not None
                ):
                    tops[(venue, event.symbol)] = TopOfBook(ticker.bid_price, ticker.ask_price)
                    break
        self.windows += 1
        for key in [k for k in self.tops if k[1] == event.symbol]:
            del self.tops[key]  # only this window's venues count: nothing stale
        self.tops.update(tops)
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

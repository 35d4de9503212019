"""Public market data of the Binance emulator: REST endpoints and stream payloads.

A mixin for :class:`~tradegw_binance.emulator.BinanceEmulator`, answering from the kit's
tape (recent trades, candles, running statistics) and simulated book: ``GET
/api/v3/trades``, ``/aggTrades``, ``/klines``, ``/avgPrice``, ``/ticker/24hr``,
``/ticker/bookTicker``, ``/ticker/price`` (rest-api.md of binance/binance-spot-api-docs)
and the ``@kline_1m``, ``@ticker``, ``@miniTicker`` and ``@depth<N>`` payloads
(web-socket-streams.md). The "24 h" figures are the running ones since the emulator
started; every trade is its own aggregate trade (one taker order, one price).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from tradegw_binance.emulator_wire import dec, error_body, venue_symbol
from tradegw_core.clock import Clock
from tradegw_core.schema.events import Side
from tradegw_core.sim.emulator import HttpRequest, HttpResponse, Route
from tradegw_core.sim.market import MarketSimulator, SimTrade
from tradegw_core.sim.tape import Candle, Tape

__all__ = ["KLINE_INTERVALS", "BinanceMarketMixin"]

_MS = 1_000_000

KLINE_INTERVALS: dict[str, int] = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
    "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
    "3d": 259200,
}  # fmt: skip
"""Interval name -> seconds (``1w`` and ``1M`` are not emulated: answered -1120)."""

Publish = Callable[[str, dict[str, Any]], None]


def _bad(code: int, msg: str) -> HttpResponse:
    return HttpResponse.json(error_body(code, msg), 400)


def _limit(value: str | None, default: int, top: int) -> int | None:
    try:
        n = int(value) if value is not None else default
    except ValueError:
        return None
    return min(n, top) if n > 0 else None


def kline_row(c: Candle) -> list[Any]:
    """One ``GET /api/v3/klines`` row."""
    return [
        c.start_ms, dec(c.open), dec(c.high), dec(c.low), dec(c.close), dec(c.volume),
        c.end_ms, dec(c.quote_volume), c.trades, dec(c.taker_buy_volume),
        dec(c.taker_buy_quote_volume), "0",
    ]  # fmt: skip


def kline_payload(c: Candle, sym: str, name: str, closed: bool) -> dict[str, Any]:
    """The ``k`` object of a ``kline`` stream event."""
    return {
        "t": c.start_ms, "T": c.end_ms, "s": sym, "i": name, "f": c.first_trade_id,
        "L": c.last_trade_id, "o": dec(c.open), "c": dec(c.close), "h": dec(c.high),
        "l": dec(c.low), "v": dec(c.volume), "n": c.trades, "x": closed,
        "q": dec(c.quote_volume), "V": dec(c.taker_buy_volume),
        "Q": dec(c.taker_buy_quote_volume), "B": "0",
    }  # fmt: skip


class BinanceMarketMixin:
    """Public REST endpoints and derived stream payloads."""

    sim: MarketSimulator
    tape: Tape
    clock: Clock
    venue: str
    symbols: list[str]
    by_venue_symbol: dict[str, str]
    _spend: Callable[[int], HttpResponse | None]

    def market_routes(self) -> list[Route]:
        """The public market-data endpoints besides depth and exchangeInfo."""
        return [
            Route("GET", "/api/v3/trades", self._trades),
            Route("GET", "/api/v3/aggTrades", self._agg_trades),
            Route("GET", "/api/v3/klines", self._klines),
            Route("GET", "/api/v3/avgPrice", self._avg_price),
            Route("GET", "/api/v3/ticker/24hr", self._ticker_24hr),
            Route("GET", "/api/v3/ticker/bookTicker", self._book_ticker_rest),
            Route("GET", "/api/v3/ticker/price", self._ticker_price),
        ]

    def _symbol(self, q: dict[str, str]) -> str | HttpResponse:
        if not q.get("symbol"):
            return _bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                        "or malformed.")  # fmt: skip
        symbol = self.by_venue_symbol.get(q["symbol"])
        return symbol if symbol is not None else _bad(-1121, "Invalid symbol.")

    def _symbols(self, q: dict[str, str]) -> list[str] | HttpResponse | None:
        """``symbol=`` or ``symbols=["A","B"]`` -> canonical symbols; None when neither."""
        if "symbol" in q and "symbols" in q:
            return _bad(-1101, "Parameter 'symbol' and 'symbols' cannot be sent together.")
        if "symbol" in q:
            one = self._symbol(q)
            return one if isinstance(one, HttpResponse) else [one]
        if "symbols" in q:
            try:
                names = json.loads(q["symbols"])
            except ValueError:
                return _bad(-1100, "Illegal characters found in parameter 'symbols'.")
            out = [self.by_venue_symbol.get(str(n)) for n in names]
            if None in out or not isinstance(names, list):
                return _bad(-1121, "Invalid symbol.")
            return [s for s in out if s is not None]
        return None

    # -- REST ---------------------------------------------------------------------------
    async def _trades(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbol = self._symbol(q)
        limit = _limit(q.get("limit"), 500, 1000)
        if isinstance(symbol, HttpResponse):
            return symbol
        if limit is None:
            return _bad(-1100, "Illegal characters found in parameter 'limit'.")
        return self._spend(25) or HttpResponse.json([
            {"id": t.trade_id, "price": dec(t.price), "qty": dec(t.qty),
             "quoteQty": dec(t.price * t.qty), "time": t.ts_ns // _MS,
             "isBuyerMaker": t.aggressor is Side.SELL, "isBestMatch": True}
            for t in self.tape.recent(symbol, limit)
        ])  # fmt: skip

    async def _agg_trades(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbol = self._symbol(q)
        limit = _limit(q.get("limit"), 500, 1000)
        if isinstance(symbol, HttpResponse):
            return symbol
        if limit is None:
            return _bad(-1100, "Illegal characters found in parameter 'limit'.")
        trades: Sequence[SimTrade] = self.tape.recent(symbol)
        if "fromId" in q:
            trades = [t for t in trades if t.trade_id >= int(q["fromId"])][:limit]
        else:
            lo, hi = int(q.get("startTime", 0)), int(q.get("endTime", 1 << 62))
            trades = [t for t in trades if lo <= t.ts_ns // _MS <= hi]
            trades = trades[:limit] if "startTime" in q else trades[-limit:]
        return self._spend(4) or HttpResponse.json([
            {"a": t.trade_id, "p": dec(t.price), "q": dec(t.qty), "f": t.trade_id,
             "l": t.trade_id, "T": t.ts_ns // _MS, "m": t.aggressor is Side.SELL, "M": True}
            for t in trades
        ])  # fmt: skip

    async def _klines(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbol = self._symbol(q)
        if isinstance(symbol, HttpResponse):
            return symbol
        seconds = KLINE_INTERVALS.get(q.get("interval", ""))
        if seconds is None:
            return _bad(-1120, "Invalid interval.")
        limit = _limit(q.get("limit"), 500, 1000)
        if limit is None:
            return _bad(-1100, "Illegal characters found in parameter 'limit'.")
        start = int(q["startTime"]) if "startTime" in q else None
        end = int(q["endTime"]) if "endTime" in q else None
        candles = self.tape.candles(symbol, seconds, start_ms=start, end_ms=end, limit=limit)
        return self._spend(2) or HttpResponse.json([kline_row(c) for c in candles])

    async def _avg_price(self, request: HttpRequest) -> HttpResponse:
        symbol = self._symbol(request.query())
        if isinstance(symbol, HttpResponse):
            return symbol
        now_ms = self.clock.time_ns() // _MS
        recent = self.tape.candles(symbol, 60, start_ms=now_ms - 5 * 60_000)
        volume = sum((c.volume for c in recent), Decimal(0))
        quote = sum((c.quote_volume for c in recent), Decimal(0))
        price = quote / volume if volume else self.sim.mid(symbol)
        last = self.tape.stats(symbol)
        close = last.last_ms if last else now_ms
        return self._spend(2) or HttpResponse.json(
            {"mins": 5, "price": dec(price), "closeTime": close}
        )

    async def _ticker_24hr(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbols = self._symbols(q)
        if isinstance(symbols, HttpResponse):
            return symbols
        mini = q.get("type", "FULL") == "MINI"
        rows = [self.ticker_row(s, mini=mini) for s in (symbols or self.symbols)]
        one = "symbol" in q
        return self._spend(2 if symbols else 80) or HttpResponse.json(rows[0] if one else rows)

    async def _book_ticker_rest(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbols = self._symbols(q)
        if isinstance(symbols, HttpResponse):
            return symbols
        rows = []
        for s in symbols or self.symbols:
            bid, ask = self.top(s)
            rows.append({"symbol": venue_symbol(s), "bidPrice": dec(bid[0]),
                         "bidQty": dec(bid[1]), "askPrice": dec(ask[0]),
                         "askQty": dec(ask[1])})  # fmt: skip
        return self._spend(2) or HttpResponse.json(rows[0] if "symbol" in q else rows)

    async def _ticker_price(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        symbols = self._symbols(q)
        if isinstance(symbols, HttpResponse):
            return symbols
        rows = [{"symbol": venue_symbol(s), "price": dec(self._last(s))}
                for s in symbols or self.symbols]  # fmt: skip
        return self._spend(2) or HttpResponse.json(rows[0] if "symbol" in q else rows)

    # -- shared figures -----------------------------------------------------------------
    def top(self, symbol: str) -> tuple[tuple[Decimal, Decimal], tuple[Decimal, Decimal]]:
        """((bid price, qty), (ask price, qty)); zeros for an empty side."""
        spec = self.sim.specs[symbol]
        out = []
        for side in (Side.BUY, Side.SELL):
            best = self.sim.best(self.venue, symbol, side)
            out.append((spec.tick * best[0], spec.lot * best[1]) if best else (Decimal(0),) * 2)
        return (out[0][0], out[0][1]), (out[1][0], out[1][1])

    def _last(self, symbol: str) -> Decimal:
        stats = self.tape.stats(symbol)
        return stats.last if stats is not None else self.sim.mid(symbol)

    def ticker_row(self, symbol: str, *, mini: bool = False) -> dict[str, Any]:
        """One ``GET /api/v3/ticker/24hr`` object (``type=MINI`` drops the book fields)."""
        s = self.tape.stats(symbol)
        now_ms = self.clock.time_ns() // _MS
        last = self._last(symbol)
        o = s.open if s else last
        row: dict[str, Any] = {"symbol": venue_symbol(symbol)}
        if not mini:
            change = last - o
            (bid, bid_qty), (ask, ask_qty) = self.top(symbol)
            row.update({
                "priceChange": dec(change),
                "priceChangePercent": f"{change / o * 100:.3f}" if o else "0.000",
                "weightedAvgPrice": dec(s.vwap if s else last), "prevClosePrice": dec(o),
                "lastPrice": dec(last), "lastQty": dec(s.last_qty if s else Decimal(0)),
                "bidPrice": dec(bid), "bidQty": dec(bid_qty), "askPrice": dec(ask),
                "askQty": dec(ask_qty),
            })  # fmt: skip
        else:
            row["lastPrice"] = dec(last)
        row.update({
            "openPrice": dec(o), "highPrice": dec(s.high if s else last),
            "lowPrice": dec(s.low if s else last), "volume": dec(s.volume if s else Decimal(0)),
            "quoteVolume": dec(s.quote_volume if s else Decimal(0)),
            "openTime": s.open_ms if s else now_ms, "closeTime": now_ms,
            "firstId": s.first_trade_id if s else -1, "lastId": s.last_trade_id if s else -1,
            "count": s.trades if s else 0,
        })  # fmt: skip
        return row

    # -- stream payloads ----------------------------------------------------------------
    def publish_trade_figures(self, trade: SimTrade, publish: Publish) -> None:
        """``@kline_1m`` (closing the previous candle first), ``@ticker``, ``@miniTicker``."""
        sym = venue_symbol(trade.symbol)
        low = sym.lower()
        ms = trade.ts_ns // _MS
        for name in ("1m",):
            seconds = KLINE_INTERVALS[name]
            candles = self.tape.candles(trade.symbol, seconds, limit=2)
            if len(candles) == 2 and candles[1].trades == 1:
                publish(f"{low}@kline_{name}", {"e": "kline", "E": ms, "s": sym,
                        "k": kline_payload(candles[0], sym, name, True)})  # fmt: skip
            publish(f"{low}@kline_{name}", {"e": "kline", "E": ms, "s": sym,
                    "k": kline_payload(candles[-1], sym, name, False)})  # fmt: skip
        s = self.tape.stats(trade.symbol)
        if s is None:  # pragma: no cover - the tape saw the trade before this runs
            return
        (bid, bid_qty), (ask, ask_qty) = self.top(trade.symbol)
        change = s.last - s.open
        publish(f"{low}@ticker", {
            "e": "24hrTicker", "E": ms, "s": sym, "p": dec(change),
            "P": f"{change / s.open * 100:.3f}", "w": dec(s.vwap), "x": dec(s.open),
            "c": dec(s.last), "Q": dec(s.last_qty), "b": dec(bid), "B": dec(bid_qty),
            "a": dec(ask), "A": dec(ask_qty), "o": dec(s.open), "h": dec(s.high),
            "l": dec(s.low), "v": dec(s.volume), "q": dec(s.quote_volume),
            "O": s.open_ms, "C": ms, "F": s.first_trade_id, "L": s.last_trade_id,
            "n": s.trades,
        })  # fmt: skip
        publish(f"{low}@miniTicker", {
            "e": "24hrMiniTicker", "E": ms, "s": sym, "c": dec(s.last), "o": dec(s.open),
            "h": dec(s.high), "l": dec(s.low), "v": dec(s.volume), "q": dec(s.quote_volume),
        })  # fmt: skip

    def partial_depth(self, symbol: str, levels: int) -> dict[str, Any]:
        """A ``@depth<levels>`` payload: the top of the book at its last update id."""
        book = self.sim.book(self.venue, symbol, depth=levels)
        return {"lastUpdateId": book.seq,
                "bids": [[dec(p), dec(q)] for p, q in book.bids],
                "asks": [[dec(p), dec(q)] for p, q in book.asks]}  # fmt: skip

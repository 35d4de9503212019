"""The public tape of one emulated venue: recent trades, candles and running statistics.

Every venue answers "recent trades", "candles" and "24 h ticker" requests from the same
facts, so the emulator base keeps them here, fed with the venue's :class:`SimTrade`\\ s:

* the last ``trades`` trades per symbol (overflow policy ``evict_oldest``);
* one-minute candles per symbol, the last ``minutes`` of them (``evict_oldest``); a
  candle of any whole number of minutes is folded from them, a sub-minute one from the
  recent trades;
* running statistics since the emulator started (open, high, low, volumes, trade count):
  what the emulators answer as their "24 h" figures.

Example::

    tape = Tape()
    tape.add(trade)                                   # a SimTrade
    tape.recent("BTC-USDT", 10)                       # newest last
    tape.candles("BTC-USDT", 300, limit=12)           # 5-minute candles, oldest first
    tape.stats("BTC-USDT")                            # None before the first trade
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal

from tradegw_core.schema.events import Side
from tradegw_core.sim.specs import SimTrade

__all__ = ["Candle", "Tape", "TapeStats"]

_ZERO = Decimal(0)
_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Candle:
    """One candle; ``start_ms`` is its open time, ``interval_s`` its length."""

    start_ms: int
    interval_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal
    first_trade_id: int
    last_trade_id: int

    @property
    def end_ms(self) -> int:
        """The candle's last millisecond (``start_ms + interval - 1``)."""
        return self.start_ms + self.interval_s * 1000 - 1

    @property
    def vwap(self) -> Decimal:
        """Volume-weighted average price (the close when nothing traded)."""
        return self.quote_volume / self.volume if self.volume else self.close


@dataclass(frozen=True, slots=True)
class TapeStats:
    """Running figures of one symbol since the tape started."""

    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal
    last_qty: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    first_trade_id: int
    last_trade_id: int
    open_ms: int
    last_ms: int

    @property
    def vwap(self) -> Decimal:
        """Volume-weighted average price."""
        return self.quote_volume / self.volume if self.volume else self.last


def _candle(trade: SimTrade, start_ms: int, interval_s: int) -> Candle:
    taker_buy = trade.aggressor is Side.BUY
    quote = trade.price * trade.qty
    return Candle(
        start_ms, interval_s, trade.price, trade.price, trade.price, trade.price, trade.qty,
        quote, 1, trade.qty if taker_buy else _ZERO, quote if taker_buy else _ZERO,
        trade.trade_id, trade.trade_id,
    )  # fmt: skip


def _merge(a: Candle, b: Candle) -> Candle:
    """``a`` then ``b`` (b later) as one candle with ``a``'s start and interval."""
    return replace(
        a,
        high=max(a.high, b.high),
        low=min(a.low, b.low),
        close=b.close,
        volume=a.volume + b.volume,
        quote_volume=a.quote_volume + b.quote_volume,
        trades=a.trades + b.trades,
        taker_buy_volume=a.taker_buy_volume + b.taker_buy_volume,
        taker_buy_quote_volume=a.taker_buy_quote_volume + b.taker_buy_quote_volume,
        last_trade_id=b.last_trade_id,
    )


class Tape:
    """Recent trades, one-minute candles and running stats per symbol (bounded)."""

    def __init__(self, *, trades: int = 1000, minutes: int = 1440) -> None:
        self._trades: dict[str, deque[SimTrade]] = {}
        self._minutes: dict[str, deque[Candle]] = {}
        self._stats: dict[str, TapeStats] = {}
        self._max_trades = trades
        self._max_minutes = minutes

    def add(self, trade: SimTrade) -> None:
        """Record one public trade."""
        sym = trade.symbol
        self._trades.setdefault(sym, deque(maxlen=self._max_trades)).append(trade)
        ms = trade.ts_ns // _MS
        start = ms - ms % 60_000
        minutes = self._minutes.setdefault(sym, deque(maxlen=self._max_minutes))
        one = _candle(trade, start, 60)
        if minutes and minutes[-1].start_ms == start:
            minutes[-1] = _merge(minutes[-1], one)
        else:
            minutes.append(one)
        s = self._stats.get(sym)
        quote = trade.price * trade.qty
        if s is None:
            self._stats[sym] = TapeStats(
                trade.price, trade.price, trade.price, trade.price, trade.qty, trade.qty,
                quote, 1, trade.trade_id, trade.trade_id, ms, ms,
            )  # fmt: skip
        else:
            self._stats[sym] = replace(
                s, high=max(s.high, trade.price), low=min(s.low, trade.price),
                last=trade.price, last_qty=trade.qty, volume=s.volume + trade.qty,
                quote_volume=s.quote_volume + quote, trades=s.trades + 1,
                last_trade_id=trade.trade_id, last_ms=ms,
            )  # fmt: skip

    def recent(self, symbol: str, limit: int | None = None) -> list[SimTrade]:
        """The last ``limit`` trades of ``symbol`` (all kept when None), oldest first."""
        trades = list(self._trades.get(symbol, ()))
        return trades if limit is None else trades[-limit:] if limit > 0 else []

    def stats(self, symbol: str) -> TapeStats | None:
        """Running figures of ``symbol``, None before its first trade."""
        return self._stats.get(symbol)

    def candles(
        self,
        symbol: str,
        interval_s: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """Candles of ``interval_s`` seconds (oldest first) that saw a trade.

        ``start_ms``/``end_ms`` bound the open times (inclusive); ``limit`` keeps the
        earliest ones when ``start_ms`` is given, else the latest. Intervals under a minute
        must divide 60 and come from the recent trades; longer ones must be whole minutes.
        """
        if (
            interval_s <= 0
            or (interval_s < 60 and 60 % interval_s)
            or (interval_s >= 60 and interval_s % 60)
        ):
            raise ValueError(f"unsupported candle interval {interval_s} s")
        if interval_s < 60:
            parts = [
                _candle(t, (t.ts_ns // _MS) - (t.ts_ns // _MS) % (interval_s * 1000), interval_s)
                for t in self._trades.get(symbol, ())
            ]
        else:
            minutes = self._minutes.get(symbol, ())
            if start_ms is None and end_ms is None and limit is not None:
                tail = (limit + 1) * (interval_s // 60)  # the latest candles need no more
                parts = list(itertools.islice(reversed(minutes), tail))[::-1]
            else:
                parts = list(minutes)
        width = interval_s * 1000
        out: list[Candle] = []
        for part in parts:
            start = part.start_ms - part.start_ms % width
            if out and out[-1].start_ms == start:
                out[-1] = _merge(out[-1], part)
            else:
                out.append(replace(part, start_ms=start, interval_s=interval_s))
        out = [
            c
            for c in out
            if (start_ms is None or c.start_ms >= start_ms)
            and (end_ms is None or c.start_ms <= end_ms)
        ]
        if limit is not None:
            out = out[:limit] if start_ms is not None else out[-limit:] if limit > 0 else []
        return out

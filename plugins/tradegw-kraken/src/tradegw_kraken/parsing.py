"""Kraken WebSocket v2 frames -> typed wire Structs -> canonical events.

One frame is decoded once into :class:`KrakenFrameMsg` with ``data`` kept raw; the channel's
own decoder then turns ``data`` into its Structs. Canonical conversion takes the canonical
symbol from the caller (the provider's symbol map), so this module has no venue tables.
"""

from __future__ import annotations

import calendar
from typing import TypeVar

import msgspec

from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import (
    EventType,
    KlineSummary,
    Side,
    Ticker,
    Trade,
    make_event_id,
)
from tradegw_kraken.schemas import (
    KrakenBookMsg,
    KrakenExecutionMsg,
    KrakenFrameMsg,
    KrakenInstrumentMsg,
    KrakenOhlcMsg,
    KrakenStatusMsg,
    KrakenTickerMsg,
    KrakenTradeMsg,
)

__all__ = [
    "KrakenDecoders",
    "interval_name",
    "kline_event",
    "parse_ts_ns",
    "ticker_event",
    "trade_event",
]

_T = TypeVar("_T")
_NS = 1_000_000_000
_INTERVAL_NAMES = {
    1: "1m",
    5: "5m",
    15: "15m",
    30: "30m",
    60: "1h",
    240: "4h",
    1440: "1d",
    10080: "1w",
    21600: "15d",
}


def parse_ts_ns(text: str) -> int:
    """RFC 3339 UTC text (``2024-10-03T02:46:57.050170Z``, up to 9 fraction digits) -> ns."""
    try:
        body = text[:-1] if text.endswith(("Z", "z")) else text
        if body.endswith("+00:00"):
            body = body[:-6]
        main, _, frac = body.partition(".")
        date, _, clock = main.partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        hour, minute, second = (int(x) for x in clock.split(":"))
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        frac_ns = int((frac + "000000000")[:9]) if frac else 0
    except ValueError as exc:
        raise SchemaError(f"not an RFC 3339 UTC timestamp: {text!r}") from exc
    return seconds * _NS + frac_ns


def interval_name(minutes: int) -> str:
    """Canonical candle interval (``1m`` ... ``15d``) for Kraken's minutes."""
    try:
        return _INTERVAL_NAMES[minutes]
    except KeyError:
        raise SchemaError(f"Kraken ohlc interval {minutes} is not one the venue offers") from None


class KrakenDecoders:
    """The typed msgspec decoders of every frame kind (one set per connection reader)."""

    def __init__(self) -> None:
        self.frame = msgspec.json.Decoder(KrakenFrameMsg)
        self.book = msgspec.json.Decoder(list[KrakenBookMsg])
        self.trade = msgspec.json.Decoder(list[KrakenTradeMsg])
        self.ticker = msgspec.json.Decoder(list[KrakenTickerMsg])
        self.ohlc = msgspec.json.Decoder(list[KrakenOhlcMsg])
        self.status = msgspec.json.Decoder(list[KrakenStatusMsg])
        self.executions = msgspec.json.Decoder(list[KrakenExecutionMsg])
        self.instrument = msgspec.json.Decoder(KrakenInstrumentMsg)

    def decode_frame(self, data: bytes | str) -> KrakenFrameMsg:
        """Decode the envelope; SchemaError when the frame is not a Kraken v2 object."""
        try:
            return self.frame.decode(data)
        except msgspec.DecodeError as exc:
            raise SchemaError(f"malformed Kraken frame: {exc}") from exc

    def book_data(self, frame: KrakenFrameMsg) -> list[KrakenBookMsg]:
        """The per-symbol entries of a ``book`` frame."""
        return self._typed(frame, self.book)

    def trade_data(self, frame: KrakenFrameMsg) -> list[KrakenTradeMsg]:
        """The trades of a ``trade`` frame."""
        return self._typed(frame, self.trade)

    def ticker_data(self, frame: KrakenFrameMsg) -> list[KrakenTickerMsg]:
        """The entries of a ``ticker`` frame."""
        return self._typed(frame, self.ticker)

    def ohlc_data(self, frame: KrakenFrameMsg) -> list[KrakenOhlcMsg]:
        """The candles of an ``ohlc`` frame."""
        return self._typed(frame, self.ohlc)

    def status_data(self, frame: KrakenFrameMsg) -> list[KrakenStatusMsg]:
        """The entries of a ``status`` frame."""
        return self._typed(frame, self.status)

    def execution_data(self, frame: KrakenFrameMsg) -> list[KrakenExecutionMsg]:
        """The entries of an ``executions`` frame."""
        return self._typed(frame, self.executions)

    def instrument_data(self, frame: KrakenFrameMsg) -> KrakenInstrumentMsg:
        """The assets and pairs of an ``instrument`` frame."""
        return self._typed(frame, self.instrument)

    def _typed(self, frame: KrakenFrameMsg, decoder: msgspec.json.Decoder[_T]) -> _T:
        if not len(frame.data):
            raise SchemaError(f"Kraken {frame.channel} frame without data")
        try:
            return decoder.decode(frame.data)
        except msgspec.DecodeError as exc:
            raise SchemaError(f"malformed Kraken {frame.channel} data: {exc}") from exc


def _side(text: str | None) -> Side | None:
    if text == "buy":
        return Side.BUY
    if text == "sell":
        return Side.SELL
    return None


def trade_event(msg: KrakenTradeMsg, symbol: str, provider: str, ts_ingest: int) -> Trade:
    """A canonical Trade (``seq_provider`` = the pair's sequential ``trade_id``)."""
    return Trade(
        event_id=make_event_id(provider, symbol, EventType.TRADE, msg.trade_id),
        provider=provider,
        symbol=symbol,
        venue_symbol=msg.symbol,
        seq_provider=msg.trade_id,
        ts_exchange=parse_ts_ns(msg.timestamp),
        ts_ingest=ts_ingest,
        trade_id=str(msg.trade_id),
        price=msg.price,
        qty=msg.qty,
        side=_side(msg.side),
    )


def ticker_event(msg: KrakenTickerMsg, symbol: str, provider: str, ts_ingest: int) -> Ticker:
    """A canonical Ticker (Kraken's ticker has no sequence: keyed by timestamp + BBO)."""
    ts = parse_ts_ns(msg.timestamp) if msg.timestamp else None
    key = f"{msg.timestamp}:{msg.bid}:{msg.ask}:{msg.last}:{msg.volume}"
    return Ticker(
        event_id=make_event_id(provider, symbol, EventType.TICKER, key),
        provider=provider,
        symbol=symbol,
        venue_symbol=msg.symbol,
        ts_exchange=ts,
        ts_ingest=ts_ingest,
        bid_price=msg.bid,
        bid_qty=msg.bid_qty,
        ask_price=msg.ask,
        ask_qty=msg.ask_qty,
        last_price=msg.last,
        volume_24h=msg.volume,
    )


def kline_event(
    msg: KrakenOhlcMsg, symbol: str, provider: str, ts_ingest: int, *, closed: bool = False
) -> KlineSummary:
    """A canonical KlineSummary; Kraken streams the running candle, so ``closed`` is False
    unless the caller knows the interval ended."""
    open_ns = parse_ts_ns(msg.interval_begin)
    close_ns = open_ns + msg.interval * 60 * _NS
    key = f"{msg.interval}:{open_ns}:{msg.timestamp}:{msg.trades}:{msg.volume}:{int(closed)}"
    return KlineSummary(
        event_id=make_event_id(provider, symbol, EventType.KLINE_SUMMARY, key),
        provider=provider,
        symbol=symbol,
        venue_symbol=msg.symbol,
        ts_exchange=parse_ts_ns(msg.timestamp) if msg.timestamp else open_ns,
        ts_ingest=ts_ingest,
        interval=interval_name(msg.interval),
        open_time=open_ns,
        close_time=close_ns,
        open=msg.open,
        high=msg.high,
        low=msg.low,
        close=msg.close,
        volume=msg.volume,
        closed=closed,
    )

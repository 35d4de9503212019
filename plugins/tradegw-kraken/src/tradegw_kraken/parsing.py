"""Kraken WebSocket v2 frames -> typed wire Structs -> canonical events.

One frame is decoded once into :class:`KrakenFrameMsg` with ``data`` kept raw; the channel's
own decoder then turns ``data`` into its Structs. Canonical conversion takes the canonical
symbol from the caller (the provider's symbol map), so this module has no venue tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from tradegw_core.errors import RejectedFrameError, SchemaError
from tradegw_core.schema.events import (
    EventType,
    KlineSummary,
    Side,
    Ticker,
    Trade,
    make_event_id,
)
from tradegw_core.schema.symbols import Instrument
from tradegw_kraken.schemas import (
    KrakenBookMsg,
    KrakenExecutionMsg,
    KrakenFrameMsg,
    KrakenInstrumentMsg,
    KrakenMarketFrameMsg,
    KrakenOhlcMsg,
    KrakenStatusMsg,
    KrakenTickerMsg,
    KrakenTradeMsg,
)
from tradegw_kraken.values import amount, price, quantity

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
_EPOCH_ORDINAL = 719163
"""``date(1970, 1, 1).toordinal()``."""
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


def parse_ts_ns(text: str, last: list[Any] | None = None) -> int:
    """RFC 3339 UTC text (``2024-10-03T02:46:57.050170Z``, up to 9 fraction digits) -> ns.

    ASCII digits only (``int`` would take full-width ones); SchemaError otherwise.
    ``last`` (a ``[head, seconds]`` pair the caller keeps) remembers the last date and time
    to the second, so frames within one second convert only their fraction.
    """
    body = text[:-1] if text.endswith(("Z", "z")) else text
    if body.endswith("+00:00"):
        body = body[:-6]
    head, frac = body[:19], body[19:]
    try:
        if not text.isascii() or len(head) != 19 or head[10] not in "Tt":
            raise ValueError("not YYYY-MM-DDTHH:MM:SS")
        if last is not None and last[0] == head:
            seconds: int = last[1]
        else:
            t = datetime.fromisoformat(head)
            days = t.toordinal() - _EPOCH_ORDINAL
            seconds = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second
            if last is not None:
                last[:] = (head, seconds)
        frac_ns = 0
        if frac:
            digits = frac[1:]
            if frac[0] != "." or not digits.isdigit() or len(digits) > 9:
                raise ValueError("bad fraction")
            frac_ns = int(digits.ljust(9, "0"))
    except (ValueError, OverflowError) as exc:
        raise SchemaError(f"not an RFC 3339 UTC timestamp: {text[:64]!r}") from exc
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
        self.market = msgspec.json.Decoder(KrakenMarketFrameMsg)

    def decode_market(self, data: bytes | str) -> KrakenMarketFrameMsg | None:
        """One pass over a book/trade/ticker/ohlc frame; None for any other frame.

        None also when such a frame does not match its schema: decode it again with
        :meth:`decode_frame` and the channel's own decoder for the exact error.
        """
        try:
            return self.market.decode(data)
        except (msgspec.DecodeError, RecursionError):
            return None

    def decode_frame(self, data: bytes | str) -> KrakenFrameMsg:
        """Decode the envelope; SchemaError when the frame is not a Kraken v2 object."""
        try:
            return self.frame.decode(data)
        except msgspec.ValidationError as exc:
            raise SchemaError(f"malformed Kraken frame: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise RejectedFrameError(f"not JSON: {exc}", reason="decode") from exc
        except RecursionError:
            raise RejectedFrameError("Kraken frame nested too deeply", reason="too_deep") from None

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
            raise SchemaError(f"Kraken {str(frame.channel)[:20]} frame without data")
        try:
            return decoder.decode(frame.data)
        except msgspec.DecodeError as exc:
            raise SchemaError(f"malformed Kraken {str(frame.channel)[:20]} data: {exc}") from exc
        except RecursionError:
            raise RejectedFrameError("Kraken data nested too deeply", reason="too_deep") from None


def _side(text: str | None) -> Side | None:
    if text == "buy":
        return Side.BUY
    if text == "sell":
        return Side.SELL
    return None


def trade_event(msg: KrakenTradeMsg, inst: Instrument, ts_ingest: int) -> Trade:
    """A canonical Trade (``seq_provider`` = the pair's sequential ``trade_id``).

    RejectedFrameError when the price or quantity is not sane at the pair's precision.
    """
    if msg.trade_id < 0:
        raise RejectedFrameError(f"trade_id {msg.trade_id} is negative")
    provider, symbol = inst.provider, inst.symbol
    return Trade(
        event_id=make_event_id(provider, symbol, EventType.TRADE, msg.trade_id),
        provider=provider,
        symbol=symbol,
        venue_symbol=msg.symbol,
        seq_provider=msg.trade_id,
        ts_exchange=parse_ts_ns(msg.timestamp),
        ts_ingest=ts_ingest,
        trade_id=str(msg.trade_id),
        price=price(msg.price, inst.price_precision),
        qty=quantity(msg.qty, inst.qty_precision),
        side=_side(msg.side),
    )


def _opt(value: Decimal | None, check: Callable[[Decimal], Decimal]) -> Decimal | None:
    return None if value is None else check(value)


def ticker_event(msg: KrakenTickerMsg, inst: Instrument, ts_ingest: int) -> Ticker:
    """A canonical Ticker (Kraken's ticker has no sequence: keyed by timestamp + BBO).

    Prices must be > 0 at the pair's price precision; the best quantities and the volume
    finite and >= 0 (Kraken prints volumes with more decimals than the lot precision).
    """
    pp = inst.price_precision
    provider, symbol = inst.provider, inst.symbol
    ts = parse_ts_ns(msg.timestamp) if msg.timestamp else None
    key = f"{msg.timestamp}:{msg.bid}:{msg.ask}:{msg.last}:{msg.volume}"
    return Ticker(
        event_id=make_event_id(provider, symbol, EventType.TICKER, key),
        provider=provider,
        symbol=symbol,
        venue_symbol=msg.symbol,
        ts_exchange=ts,
        ts_ingest=ts_ingest,
        bid_price=_opt(msg.bid, lambda v: price(v, pp)),
        bid_qty=_opt(msg.bid_qty, amount),
        ask_price=_opt(msg.ask, lambda v: price(v, pp)),
        ask_qty=_opt(msg.ask_qty, amount),
        last_price=_opt(msg.last, lambda v: price(v, pp)),
        volume_24h=_opt(msg.volume, amount),
    )


def kline_event(
    msg: KrakenOhlcMsg, inst: Instrument, ts_ingest: int, *, closed: bool = False
) -> KlineSummary:
    """A canonical KlineSummary; Kraken streams the running candle, so ``closed`` is False
    unless the caller knows the interval ended. Prices > 0 at the pair's precision, volume
    finite and >= 0."""
    pp = inst.price_precision
    provider, symbol = inst.provider, inst.symbol
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
        open=price(msg.open, pp),
        high=price(msg.high, pp),
        low=price(msg.low, pp),
        close=price(msg.close, pp),
        volume=amount(msg.volume),
        closed=closed,
    )

"""Wire frames -> canonical events (pure functions and one small sans-I/O candle tracker).

``decode_frame`` turns one WebSocket text into a typed frame; the ``parse_*`` functions turn
typed frames into canonical msgspec events. Book frames go to :mod:`tradegw_coinbase.book`
instead, through :func:`l2_events`. Timestamps are RFC 3339 with up to nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from tradegw_coinbase.book import CoinbaseBookDiff, CoinbaseBookSnapshot, stream_seq
from tradegw_coinbase.schemas import (
    CoinbaseCandlesMsg,
    CoinbaseL2DataMsg,
    CoinbaseL2Event,
    CoinbaseMarketTradesMsg,
    CoinbaseMsg,
    CoinbaseOtherMsg,
    CoinbaseProductBookMsg,
    CoinbaseTickerBatchMsg,
    CoinbaseTickerMsg,
    CoinbaseWsMsg,
)
from tradegw_coinbase.values import amount, decimal, price
from tradegw_core.errors import RejectedFrameError, SchemaError
from tradegw_core.schema.events import (
    EventType,
    KlineSummary,
    Side,
    Ticker,
    Trade,
    make_event_id,
)
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = [
    "CANDLE_INTERVAL",
    "CANDLE_SECONDS",
    "CandleTracker",
    "aggressor_side",
    "decode_frame",
    "format_time",
    "l2_events",
    "l2_item",
    "parse_candles",
    "parse_product_book",
    "parse_ticker",
    "parse_time_ns",
    "parse_trades",
]

CANDLE_SECONDS = 300
"""The ``candles`` channel's fixed granularity: 5 minutes."""
CANDLE_INTERVAL = "5m"
_NS = 1_000_000_000
_EPOCH_ORDINAL = 719163
"""``date(1970, 1, 1).toordinal()``."""

_data_decoder: msgspec.json.Decoder[CoinbaseWsMsg] = msgspec.json.Decoder(CoinbaseWsMsg)
_other_decoder = msgspec.json.Decoder(CoinbaseOtherMsg)


def decode_frame(data: bytes | str) -> CoinbaseMsg:
    """Decode one WebSocket frame; unknown channels and errors become ``CoinbaseOtherMsg``.

    Raises SchemaError when a known channel's frame is malformed, RejectedFrameError when the
    text is not JSON (``decode``) or is nested too deeply (``too_deep``).
    """
    try:
        try:
            return _data_decoder.decode(data)
        except msgspec.ValidationError as exc:
            try:
                other = _other_decoder.decode(data)
            except msgspec.DecodeError as exc2:
                raise SchemaError(f"malformed Coinbase frame: {exc}") from exc2
            if other.channel in _KNOWN_CHANNELS:
                channel = str(other.channel)[:20]
                raise SchemaError(f"malformed Coinbase {channel} frame: {exc}") from exc
            return other
    except msgspec.DecodeError as exc:
        raise RejectedFrameError(f"Coinbase frame is not JSON: {exc}", reason="decode") from exc
    except RecursionError:
        raise RejectedFrameError("Coinbase frame nested too deeply", reason="too_deep") from None


_KNOWN_CHANNELS = frozenset(
    {"l2_data", "market_trades", "ticker", "ticker_batch", "candles", "heartbeats"}
    | {"subscriptions", "user"}
)


def parse_time_ns(text: str, last: list[Any] | None = None) -> int | None:
    """RFC 3339 (``2026-09-07T23:37:22.278739877Z``) -> ns since the epoch; None if empty.

    ``last`` (a ``[head, seconds]`` pair the caller keeps) remembers the last date and time
    to the second, so frames within one second convert only their fraction.
    """
    if not text:
        return None
    if not text.isascii():
        raise SchemaError(f"bad timestamp {text[:64]!r}")
    if text[-1:] in ("Z", "z") and len(text) >= 20 and text[10] in "Tt" and text[19:20] in ".Zz":
        # Fast path of the venue's own form: 2026-09-07T23:37:22.278739877Z
        head = text[:19]
        if last is not None and last[0] == head:
            seconds: int = last[1]
        else:
            try:
                t = datetime.fromisoformat(head)
            except ValueError as exc:
                raise SchemaError(f"bad timestamp {text[:64]!r}") from exc
            days = t.toordinal() - _EPOCH_ORDINAL
            seconds = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second
            if last is not None:
                last[:] = (head, seconds)
        frac = text[20:-1]
        if len(frac) > 9 or (frac and not frac.isdigit()) or (text[19] == "." and not frac):
            raise SchemaError(f"bad fractional seconds in {text[:64]!r}")
        return seconds * _NS + (int(frac.ljust(9, "0")) if frac else 0)
    body = text.strip()
    if body.endswith(("Z", "z")):
        body, offset = body[:-1], "+00:00"
    else:
        pos = max(body.rfind("+"), body.rfind("-"))
        if pos > 10:
            body, offset = body[:pos], body[pos:]
        else:
            offset = "+00:00"
    frac_ns = 0
    if "." in body:
        body, frac = body.split(".", 1)
        if not frac.isdigit():
            raise SchemaError(f"bad fractional seconds in {text[:64]!r}")
        frac_ns = int(frac[:9].ljust(9, "0"))
    try:
        dt = datetime.fromisoformat(body + offset)
    except ValueError as exc:
        raise SchemaError(f"bad timestamp {text[:64]!r}") from exc
    return int(dt.timestamp()) * _NS + frac_ns


def format_time(ts_ns: int) -> str:
    """ns since the epoch -> RFC 3339 with nanoseconds (``2026-09-07T23:37:22.278739877Z``)."""
    secs, frac = divmod(ts_ns, _NS)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def aggressor_side(wire_side: str, *, side_is_maker: bool) -> Side | None:
    """The canonical aggressor side from a ``market_trades`` side.

    The docs say ``side`` is the maker's side, so the aggressor is the opposite; peers
    disagree in practice, hence the one switch ``side_is_maker``.
    """
    up = wire_side.upper()
    if up not in ("BUY", "SELL"):
        return None
    is_buy = up == "BUY"
    if side_is_maker:
        is_buy = not is_buy
    return Side.BUY if is_buy else Side.SELL


def _seq_of(trade_id: str) -> int | None:
    return int(trade_id) if trade_id.isdigit() and trade_id.isascii() else None


def _instrument(instruments: Mapping[Symbol, Instrument], product_id: str) -> Instrument:
    inst = instruments.get(Symbol(product_id))
    if inst is None:
        raise RejectedFrameError(f"unknown product {product_id[:40]!r}", reason="unknown_symbol")
    return inst


def parse_trades(
    msg: CoinbaseMarketTradesMsg,
    instruments: Mapping[Symbol, Instrument],
    *,
    provider: str = "coinbase",
    ts_ingest: int = 0,
    side_is_maker: bool = True,
) -> list[Trade]:
    """Every trade of a ``market_trades`` frame, in wire order (snapshot and update alike).

    ``instruments`` by product id give the precisions values are checked at; any bad
    value or unknown product raises RejectedFrameError for the whole frame.
    """
    out: list[Trade] = []
    for event in msg.events:
        for t in event.trades:
            inst = _instrument(instruments, t.product_id)
            out.append(
                Trade(
                    event_id=make_event_id(provider, t.product_id, EventType.TRADE, t.trade_id),
                    provider=provider,
                    symbol=t.product_id,
                    venue_symbol=t.product_id,
                    seq_provider=_seq_of(t.trade_id),
                    ts_exchange=parse_time_ns(t.time),
                    ts_ingest=ts_ingest,
                    trade_id=t.trade_id,
                    price=price(t.price, inst.price_precision),
                    qty=decimal(t.size, inst.qty_precision),
                    side=aggressor_side(t.side, side_is_maker=side_is_maker),
                )
            )
    return out


def _opt(text: str, check: Callable[[str, int], Decimal], precision: int) -> Decimal | None:
    return check(text, precision) if text else None


def parse_ticker(
    msg: CoinbaseTickerMsg | CoinbaseTickerBatchMsg,
    instruments: Mapping[Symbol, Instrument],
    *,
    provider: str = "coinbase",
    ts_ingest: int = 0,
    epoch: int = 0,
) -> list[Ticker]:
    """Every ticker of a ``ticker`` (or ``ticker_batch``, without bid/ask) frame.

    Values are checked like :func:`parse_trades` (volumes at any precision).
    """
    ts = parse_time_ns(msg.timestamp)
    out: list[Ticker] = []
    for event in msg.events:
        for t in event.tickers:
            inst = _instrument(instruments, t.product_id)
            pp, qp = inst.price_precision, inst.qty_precision
            key = f"{msg.timestamp}:{t.price}:{t.best_bid}:{t.best_ask}"
            out.append(
                Ticker(
                    event_id=make_event_id(provider, t.product_id, EventType.TICKER, key),
                    provider=provider,
                    symbol=t.product_id,
                    venue_symbol=t.product_id,
                    seq_provider=stream_seq(epoch, msg.sequence_num),
                    ts_exchange=ts,
                    ts_ingest=ts_ingest,
                    bid_price=_opt(t.best_bid, price, pp),
                    bid_qty=_opt(t.best_bid_quantity, decimal, qp),
                    ask_price=_opt(t.best_ask, price, pp),
                    ask_qty=_opt(t.best_ask_quantity, decimal, qp),
                    last_price=_opt(t.price, price, pp),
                    volume_24h=amount(t.volume_24_h) if t.volume_24_h else None,
                )
            )
    return out


def parse_candles(
    msg: CoinbaseCandlesMsg,
    instruments: Mapping[Symbol, Instrument],
    *,
    provider: str = "coinbase",
    ts_ingest: int = 0,
    epoch: int = 0,
) -> list[KlineSummary]:
    """Every candle of a frame as a running (``closed=False``) 5-minute KlineSummary.

    ``open_time``/``close_time`` are ns since the epoch (close = open + 5 min, exclusive).
    Use :class:`CandleTracker` to also learn when a bucket closed. Prices are checked at
    the product's precision, the volume at any.
    """
    ts = parse_time_ns(msg.timestamp)
    out: list[KlineSummary] = []
    for event in msg.events:
        for c in event.candles:
            pp = _instrument(instruments, c.product_id).price_precision
            if not (c.start.isdigit() and c.start.isascii() and len(c.start) <= 12):
                raise SchemaError(f"candle start {c.start!r} is not UNIX seconds")
            open_ns = int(c.start) * _NS
            key = f"{c.start}:{msg.timestamp}"
            out.append(
                KlineSummary(
                    event_id=make_event_id(provider, c.product_id, EventType.KLINE_SUMMARY, key),
                    provider=provider,
                    symbol=c.product_id,
                    venue_symbol=c.product_id,
                    seq_provider=stream_seq(epoch, msg.sequence_num),
                    ts_exchange=ts,
                    ts_ingest=ts_ingest,
                    interval=CANDLE_INTERVAL,
                    open_time=open_ns,
                    close_time=open_ns + CANDLE_SECONDS * _NS,
                    open=price(c.open, pp),
                    high=price(c.high, pp),
                    low=price(c.low, pp),
                    close=price(c.close, pp),
                    volume=amount(c.volume),
                )
            )
    return out


class CandleTracker:
    """Marks candles closed: Coinbase re-sends the open bucket until a later ``start`` shows.

    ``feed`` returns, per product, the previous bucket re-emitted with ``closed=True`` when
    a later bucket arrives, then the incoming candle (running). Older buckets (a snapshot's
    history) pass through as closed. Bounded: one remembered candle per product.
    """

    def __init__(self) -> None:
        self._last: dict[str, KlineSummary] = {}

    def feed(self, klines: list[KlineSummary]) -> list[KlineSummary]:
        """Process candles in wire order; return what to emit, in order."""
        out: list[KlineSummary] = []
        for k in sorted(klines, key=lambda k: k.open_time):
            last = self._last.get(k.symbol)
            if last is not None and k.open_time < last.open_time:
                out.append(msgspec.structs.replace(k, closed=True))
                continue
            if last is not None and k.open_time > last.open_time:
                closed_id = last.event_id + ":closed"
                out.append(msgspec.structs.replace(last, closed=True, event_id=closed_id))
            self._last[k.symbol] = k
            out.append(k)
        return out


def l2_events(
    msg: CoinbaseL2DataMsg, *, epoch: int = 0
) -> Iterator[CoinbaseBookSnapshot | CoinbaseBookDiff]:
    """Split an ``l2_data`` frame into per-product book snapshots and diffs.

    ``epoch`` is the connection's sequence epoch (see :class:`ConnectionSequence`); every
    item carries the frame's ``sequence_num``.
    """
    ts = parse_time_ns(msg.timestamp)
    for event in msg.events:
        yield l2_item(event, msg.sequence_num, epoch, ts)


def l2_item(
    event: CoinbaseL2Event, seq: int, epoch: int, ts: int | None
) -> CoinbaseBookSnapshot | CoinbaseBookDiff:
    """One product's event of an ``l2_data`` frame as a book snapshot or diff."""
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []
    for u in event.updates:
        side = u.side
        if side == "bid":
            bids.append((u.price_level, u.new_quantity))
        elif side == "offer" or side == "ask":
            asks.append((u.price_level, u.new_quantity))
        else:
            raise SchemaError(f"unknown l2_data side {side[:20]!r}")
    kind = CoinbaseBookDiff if event.type == "update" else CoinbaseBookSnapshot
    if kind is CoinbaseBookSnapshot and event.type != "snapshot":
        raise SchemaError(f"unknown l2_data event type {event.type[:20]!r}")
    return kind(
        product_id=event.product_id, bids=bids, asks=asks, seq=seq, epoch=epoch, ts_exchange=ts
    )


def parse_product_book(msg: CoinbaseProductBookMsg) -> CoinbaseBookSnapshot:
    """A REST ``product_book`` answer as a snapshot for ``reconcile`` (it has no sequence)."""
    book = msg.pricebook
    return CoinbaseBookSnapshot(
        product_id=book.product_id,
        bids=[(lv.price, lv.size) for lv in book.bids],
        asks=[(lv.price, lv.size) for lv in book.asks],
        seq=None,
        epoch=None,
        ts_exchange=parse_time_ns(book.time),
    )

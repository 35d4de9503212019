"""Binance wire bytes -> the typed Structs of ``schemas.py`` (synchronous, hot path).

One msgspec decoder per message kind; a body that does not fit raises ``SchemaError``.
Turning the Structs into canonical events is :mod:`tradegw_binance.parsing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from tradegw_binance.schemas import (
    BinanceAggTradeMsg,
    BinanceBookTickerMsg,
    BinanceDepthDiffMsg,
    BinanceDepthSnapshotMsg,
    BinanceExecutionReportMsg,
    BinanceKlineMsg,
    BinanceOrderMsg,
    BinanceStreamData,
    BinanceStreamFrame,
    BinanceTicker24hMsg,
    BinanceTradeMsg,
    BinanceUserEventFrame,
)
from tradegw_core.errors import SchemaError

if TYPE_CHECKING:
    from tradegw_binance.parsing import BinanceParser

__all__ = [
    "decode_depth_frame",
    "decode_depth_snapshot",
    "decode_execution_report",
    "decode_order",
    "decode_stream_frame",
    "decode_user_event",
    "market_handler",
    "split_stream_name",
]

_T = TypeVar("_T")

_frame_decoder = msgspec.json.Decoder(BinanceStreamFrame)
_snapshot_decoder = msgspec.json.Decoder(BinanceDepthSnapshotMsg)
_exec_decoder = msgspec.json.Decoder(BinanceExecutionReportMsg)
_user_frame_decoder = msgspec.json.Decoder(BinanceUserEventFrame)
_order_decoder = msgspec.json.Decoder(BinanceOrderMsg)


def _decode(decoder: msgspec.json.Decoder[_T], data: bytes | str, what: str) -> _T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise SchemaError(f"binance {what} does not fit the wire format: {exc}") from exc


def decode_stream_frame(data: bytes | str) -> BinanceStreamFrame:
    """One combined-stream frame (data, control ack or control error)."""
    return _decode(_frame_decoder, data, "stream frame")


def decode_depth_snapshot(data: bytes | str) -> BinanceDepthSnapshotMsg:
    """A REST depth snapshot body."""
    return _decode(_snapshot_decoder, data, "depth snapshot")


def decode_execution_report(data: bytes | str) -> BinanceExecutionReportMsg:
    """An ``executionReport`` payload (unwrapped)."""
    return _decode(_exec_decoder, data, "executionReport")


def decode_user_event(data: bytes | str) -> BinanceUserEventFrame:
    """A WS API user-data frame ``{"subscriptionId": n, "event": {...}}``."""
    return _decode(_user_frame_decoder, data, "user data event")


def decode_order(data: bytes | str) -> BinanceOrderMsg:
    """A REST / WS API order answer."""
    return _decode(_order_decoder, data, "order answer")


DEPTH_FRAME = msgspec.json.Decoder(BinanceStreamData[BinanceDepthDiffMsg])
"""Whole ``<sym>@depth`` frames straight into their ``depthUpdate`` payload (one pass)."""


def decode_depth_frame(data: bytes | str) -> BinanceDepthDiffMsg:
    """A whole ``<sym>@depth`` frame -> its ``depthUpdate`` payload, in one pass."""
    return _decode(DEPTH_FRAME, data, "depthUpdate").data


def _handler(payload: type[Any], parse: Callable[[Any, int], Any]) -> Callable[[Any, int], Any]:
    decode = msgspec.json.Decoder(BinanceStreamData[payload]).decode  # type: ignore[valid-type]

    def handle(data: bytes | str, ts_ingest: int) -> Any:
        return parse(decode(data).data, ts_ingest)

    return handle


def market_handler(channel: str, parser: BinanceParser) -> Callable[[bytes | str, int], Any] | None:
    """Decode a whole frame of ``channel`` (one pass) and parse it into its canonical event.

    ``trade``/``aggTrade`` -> Trade, ``bookTicker``/``ticker`` -> Ticker, ``kline_<i>`` ->
    KlineSummary. Raises msgspec's DecodeError / ValidationError for a frame that does not
    fit and FrameRejected for an unusable value or symbol. None for a channel this adapter
    does not consume.
    """
    if channel.startswith("kline_"):
        return _handler(BinanceKlineMsg, parser.kline)
    found = _PAYLOADS.get(channel)
    if found is None:
        return None
    payload, method = found
    return _handler(payload, getattr(parser, method))


_PAYLOADS: dict[str, tuple[type[Any], str]] = {
    "trade": (BinanceTradeMsg, "trade"),
    "aggTrade": (BinanceAggTradeMsg, "agg_trade"),
    "bookTicker": (BinanceBookTickerMsg, "book_ticker"),
    "ticker": (BinanceTicker24hMsg, "ticker_24h"),
}


def split_stream_name(stream: str) -> tuple[str, str]:
    """``btcusdt@depth@100ms`` -> (``BTCUSDT``, ``depth@100ms``)."""
    venue_symbol, sep, channel = stream.partition("@")
    if not sep:
        raise SchemaError(f"binance stream name {stream!r} has no '@<channel>' part")
    return venue_symbol.upper(), channel

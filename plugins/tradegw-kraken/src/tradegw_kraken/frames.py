"""The Kraken provider's frame handling: one decode pass, total, values checked at the edge.

:class:`MarketFrames` is the part of :class:`~tradegw_kraken.provider.KrakenProvider` that
runs in the connection reader for every frame: book frames go to the symbol's book stage,
trades/tickers/candles become canonical events, method answers complete requests. It is
total: whatever the bytes, nothing raises; a frame that cannot be used is rejected through
``ctx.reject_frame`` (reason ``decode``, ``too_deep``, ``schema``, ``value``, ``crossed``,
``unknown_symbol``, ``handler_error``) and a bad book frame resyncs that book.
"""

from __future__ import annotations

import msgspec

from tradegw_core.contracts import BookStage, ProviderContext
from tradegw_core.errors import RejectedFrameError, SchemaError
from tradegw_core.schema.symbols import Symbol
from tradegw_kraken.parsing import KrakenDecoders, kline_event, ticker_event, trade_event
from tradegw_kraken.schemas import (
    KrakenBookFrameMsg,
    KrakenFrameMsg,
    KrakenMarketFrameMsg,
    KrakenOhlcFrameMsg,
    KrakenOhlcMsg,
    KrakenTickerFrameMsg,
    KrakenTickerMsg,
    KrakenTradeFrameMsg,
    KrakenTradeMsg,
)
from tradegw_kraken.symbols import KrakenSymbolMap
from tradegw_kraken.wsrequests import PendingRequests

__all__ = ["MarketFrames"]


class MarketFrames:
    """Frame handling of the Kraken provider (a mixin: the provider owns the state)."""

    _ctx: ProviderContext
    _name: str
    _symbols: KrakenSymbolMap
    _decoders: KrakenDecoders
    _requests: PendingRequests
    _wanted: dict[str, set[Symbol]]
    _stages: dict[Symbol, BookStage]
    _candles: dict[Symbol, KrakenOhlcMsg]
    system_status: str

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One frame, in the reader task: total (whatever the bytes, nothing raises).

        A frame that cannot be used is rejected through ``ctx.reject_frame`` (counted per
        reason; a bad book frame resyncs that book) and nothing of it is emitted.
        """
        try:
            frame = self._decoders.decode_market(data)
            if frame is None:
                self._dispatch_other(data, ts_ingest)
            elif not data.isascii():
                # Kraken writes numbers as JSON numbers; only a string can smuggle in
                # full-width digits, which Decimal would read as ASCII ones.
                book = isinstance(frame, KrakenBookFrameMsg)
                symbols = [e.symbol for e in frame.data] if book else []
                self._reject_book("value", "non-ASCII text in a market frame", symbols)
            elif isinstance(frame, KrakenBookFrameMsg):
                self._on_book(frame, ts_ingest)
            else:
                self._on_market(frame, ts_ingest)
        except SchemaError as exc:
            self._ctx.reject_frame("schema", detail=str(exc))
        except RejectedFrameError as exc:
            self._ctx.reject_frame(exc.reason, detail=str(exc))
        except Exception as exc:  # a frame handler is total: never restart for a frame
            self._ctx.reject_frame("handler_error", detail=type(exc).__name__, exc=exc)

    def _on_book(self, frame: KrakenBookFrameMsg, ts: int) -> None:
        snapshot = frame.type == "snapshot"
        for entry in frame.data:
            sym = self._symbols.find(entry.symbol)
            if sym is None:
                self._ctx.reject_frame("unknown_symbol", detail=f"book {entry.symbol[:40]!r}")
                continue
            stage = self._stages.get(sym)
            if stage is None:
                continue
            try:
                if snapshot:
                    stage.on_snapshot(entry, ts)
                else:
                    stage.on_diff(entry, ts)
            except RejectedFrameError as exc:
                self._ctx.reject_frame(exc.reason, detail=str(exc), symbol=sym)
            except SchemaError as exc:
                self._ctx.reject_frame("schema", detail=str(exc), symbol=sym)
            except Exception as exc:  # the book may be half-changed: resync it
                self._ctx.reject_frame(
                    "handler_error", detail=type(exc).__name__, symbol=sym, exc=exc
                )

    def _on_market(self, frame: KrakenMarketFrameMsg, ts: int) -> None:
        """Trades, tickers and candles: each entry checked; a bad one skips only itself."""
        symbols = self._symbols
        for item in frame.data:
            sym = symbols.find(item.symbol)
            if sym is None:
                self._ctx.reject_frame("unknown_symbol", detail=f"{item.symbol[:40]!r}")
                continue
            try:
                if isinstance(item, KrakenTradeMsg):
                    if sym in self._wanted["trade"]:
                        self._ctx.emit(trade_event(item, symbols.instrument(sym), ts))
                elif isinstance(item, KrakenTickerMsg):
                    if sym in self._wanted["ticker"]:
                        self._ctx.emit(ticker_event(item, symbols.instrument(sym), ts))
                elif isinstance(item, KrakenOhlcMsg):
                    self._on_candle(item, sym, ts)
            except RejectedFrameError as exc:
                self._ctx.reject_frame(exc.reason, detail=str(exc), symbol=sym)
            except SchemaError as exc:
                self._ctx.reject_frame("schema", detail=str(exc), symbol=sym)

    def _dispatch_other(self, data: bytes | str, ts: int) -> None:
        """Frames of other channels, method answers, and market frames that failed the
        one-pass decode (decoded again here for the exact error)."""
        dec = self._decoders
        frame = dec.decode_frame(data)
        channel = frame.channel
        if frame.method is not None:
            self._on_answer(frame)
        elif channel == "book":
            try:
                entries = dec.book_data(frame)
            except SchemaError as exc:
                self._reject_book("schema", str(exc), _symbols_in(frame))
                return
            self._on_book(KrakenBookFrameMsg(type=frame.type, data=entries), ts)
        elif channel == "trade":
            self._on_market(KrakenTradeFrameMsg(type=frame.type, data=dec.trade_data(frame)), ts)
        elif channel == "ticker":
            self._on_market(KrakenTickerFrameMsg(type=frame.type, data=dec.ticker_data(frame)), ts)
        elif channel == "ohlc":
            self._on_market(KrakenOhlcFrameMsg(type=frame.type, data=dec.ohlc_data(frame)), ts)
        elif channel == "status":
            for status in dec.status_data(frame):
                self.system_status = status.system
                if status.system != "online":
                    self._ctx.telemetry.emit(
                        "venue.status", provider=self._name, system=status.system[:40]
                    )

    def _reject_book(self, reason: str, detail: str, venue_symbols: list[str]) -> None:
        """Reject a book frame; each subscribed book it was meant for resyncs."""
        served = [s for s in map(self._symbols.find, venue_symbols) if s in self._stages]
        if not served:
            self._ctx.reject_frame(reason, detail=detail)
        for sym in served:
            self._ctx.reject_frame(reason, detail=detail, symbol=sym)

    def _on_answer(self, frame: KrakenFrameMsg) -> None:
        symbol = frame.symbol
        if frame.success and len(frame.result):
            result = msgspec.json.decode(frame.result)
            if isinstance(result, dict) and isinstance(result.get("symbol"), str):
                symbol = result["symbol"]
        if not self._requests.on_answer(frame, symbol) and frame.success is False:
            self._ctx.telemetry.emit(
                "venue.error",
                provider=self._name,
                method=str(frame.method)[:40],
                error=str(frame.error)[:200],
            )

    def _on_candle(self, c: KrakenOhlcMsg, sym: Symbol, ts: int) -> None:
        if sym not in self._wanted["ohlc"]:
            return
        inst = self._symbols.instrument(sym)
        event = kline_event(c, inst, ts)  # checked before it replaces the running candle
        last = self._candles.get(sym)
        if last is not None and last.interval_begin != c.interval_begin:
            # A new interval began: the previous candle is final.
            self._ctx.emit(kline_event(last, inst, ts, closed=True))
        self._candles[sym] = c
        self._ctx.emit(event)


def _symbols_in(frame: KrakenFrameMsg) -> list[str]:
    """The ``symbol`` texts of a malformed frame's ``data`` entries (best effort)."""
    try:
        entries = msgspec.json.decode(frame.data)
    except (msgspec.DecodeError, RecursionError):
        return []
    if not isinstance(entries, list):
        return []
    return [
        e["symbol"] for e in entries if isinstance(e, dict) and isinstance(e.get("symbol"), str)
    ]

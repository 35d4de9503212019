"""The Binance spot market-data provider (implements ``tradegw_core.contracts.Provider``).

* Instruments come from ``exchangeInfo`` at start-up.
* Streams per canonical type: books -> ``<sym>@depth@100ms`` (or ``@depth``), trades ->
  ``<sym>@trade``, tickers -> ``<sym>@bookTicker`` (or ``@ticker``), klines ->
  ``<sym>@kline_<interval>``. BookSnapshot and BookUpdate share the depth stream.
* Connections (:mod:`tradegw_binance.streams`) carry up to ``max_streams_per_connection``
  streams each; with ``connections_per_stream = 2`` every stream runs on two sockets (A/B)
  and downstream dedup by event id keeps the first copy (the book ignores a copy by id).
* Books: one :class:`~tradegw_binance.book.BinanceBookAssembler` per symbol driven by the
  core's book stage; the stage's ``resync`` fetches a REST snapshot (after the first diff
  was buffered, per the venue's procedure) and its periodic ``reconcile`` compares the book
  with a fresh snapshot rolled forward to the same update id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskGroup, TaskStatus

from tradegw_binance.book import BinanceBookAssembler
from tradegw_binance.config import BinanceSettings
from tradegw_binance.decoding import (
    decode_depth_snapshot,
    market_handler,
    split_stream_name,
)
from tradegw_binance.depth import DepthFeed
from tradegw_binance.http import EXCHANGE_INFO, depth_weight, make_venue_http
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.schemas import BinanceDepthSnapshotMsg
from tradegw_binance.streams import StreamConnection
from tradegw_binance.symbols import BinanceSymbolMap
from tradegw_binance.values import BookValues, FrameRejected
from tradegw_core.contracts import ResyncReason, StreamSpec
from tradegw_core.dispatcher.ordering import OrderingMode, declare_modes
from tradegw_core.errors import ConfigError, ControlError, VenueConnectionError
from tradegw_core.net.http import VenueHttp
from tradegw_core.schema.events import Event, EventType
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["ORDERING_MODES", "BinanceProvider"]

ORDERING_MODES = {
    EventType.BOOK_UPDATE: OrderingMode.CONTIGUOUS,
    EventType.TRADE: OrderingMode.MONOTONIC,
    EventType.TICKER: OrderingMode.MONOTONIC,
}
"""Declared to the dispatcher at start-up. Diff depth is contiguous per symbol: each
update's ``U`` is the previous one's ``u + 1`` and the assembler's ``prev_seq`` names the
previous emitted update, so a held update waits for a missing one from the other socket
(A/B). Trade ids (``t``) are not documented as gap-free and ``bookTicker``'s ``u`` shares
the book's update-id counter (it skips), so both are only monotonic."""

_BOOK_TYPES = frozenset({EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE})
_SUPPORTED = frozenset({*_BOOK_TYPES, EventType.TRADE, EventType.TICKER, EventType.KLINE_SUMMARY})


_MAX_HANDLERS = 4096
"""Stream handlers kept (far above any subscription set; a bound against junk names)."""


def _ignore(data: bytes | str, ts_ingest: int) -> None:
    """The handler of a stream frame that is not for us (any more)."""
    del data, ts_ingest


class BinanceProvider:
    """Binance spot market data; see the module docstring."""

    def __init__(
        self,
        ctx: Any,
        *,
        transport: Any = None,
        ws_connect_kwargs: Mapping[str, Any] | None = None,
        first_diff_wait_s: float = 2.0,
    ) -> None:
        self.ctx = ctx
        declare_modes(ctx, ORDERING_MODES)
        self.settings = ctx.settings if ctx.settings is not None else BinanceSettings()
        self.provider_id: str = ctx.provider_id
        self._transport = transport
        self._ws_kwargs = dict(ws_connect_kwargs or {})
        self._first_diff_wait_s = first_diff_wait_s
        self._symbols = BinanceSymbolMap([])
        self._values = BookValues()
        self._parser = BinanceParser(self.provider_id, self._symbols, self._values)
        self._http: VenueHttp | None = None
        self._tg: TaskGroup | None = None
        self._groups: list[list[StreamConnection]] = [
            [] for _ in range(self.settings.connections_per_stream)
        ]
        self._refs: dict[str, set[StreamSpec]] = {}
        """Venue stream name -> the canonical streams that need it."""
        self._books: dict[str, DepthFeed] = {}
        """By venue symbol."""
        self._routes: dict[str, Callable[[bytes | str, int], None]] = {}
        """Depth stream name -> its book's frame handler (the connections' hot route)."""
        self._handlers: dict[str, Callable[[bytes | str, int], Event | None]] = {}
        """Decode-and-parse of the subscribed non-depth streams, by stream name."""
        self._lock = anyio.Lock()

    # -- Provider ------------------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Load instruments, then serve subscriptions until cancelled."""
        client, http, _ = make_venue_http(self.settings, self.ctx.clock, transport=self._transport)
        async with client:
            self._http = http
            info = await http.request(EXCHANGE_INFO, raw=True)
            smap = BinanceSymbolMap.from_exchange_info(info, self.provider_id)
            if self.settings.symbols:
                try:
                    wanted = smap.resolve(self.settings.symbols)
                except ControlError as exc:
                    raise ConfigError(f"providers.binance.symbols: {exc}") from exc
                smap = BinanceSymbolMap(wanted)
            self.use_symbols(smap)
            try:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    task_status.started()
                    await anyio.sleep_forever()
            finally:
                self._tg = None
                self._http = None

    def use_symbols(self, smap: BinanceSymbolMap) -> None:
        """Serve the instruments of ``smap`` (at start-up, from ``exchangeInfo``)."""
        self._symbols = smap
        self._parser = BinanceParser(self.provider_id, smap, self._values)

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable pairs by canonical symbol (configured ones only, when configured)."""
        return self._symbols.instruments()

    def supported_types(self) -> frozenset[EventType]:
        """Books, trades, tickers and klines."""
        return _SUPPORTED

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Subscribe on the venue and wait for the acks (books then resync)."""
        wanted = {spec: self._stream_name(spec) for spec in streams}
        async with self._lock:
            new = sorted({n for s, n in wanted.items() if n not in self._refs})
            new_books = {n for n in new if "@depth" in n}
            for spec, name in wanted.items():
                self._refs.setdefault(name, set()).add(spec)
                if name in new_books:
                    self._ensure_book(spec.symbol)
            try:
                for gi, group in enumerate(self._groups):
                    await self._subscribe_group(gi, group, new)
            except BaseException:
                for spec, name in wanted.items():
                    refs = self._refs.get(name)
                    if refs is not None and name in new:
                        refs.discard(spec)
                        if not refs:
                            del self._refs[name]
                for name in new_books:
                    self._drop_book(split_stream_name(name)[0])
                raise
            for name in new_books:
                venue_symbol, _ = split_stream_name(name)
                self._books[venue_symbol].stage.request_resync(ResyncReason.INITIAL)

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Unsubscribe streams no longer wanted, keeping the connections open."""
        async with self._lock:
            gone: list[str] = []
            for spec in streams:
                name = self._stream_name(spec)
                refs = self._refs.get(name)
                if refs is None:
                    continue
                refs.discard(spec)
                if not refs:
                    del self._refs[name]
                    gone.append(name)
            for group in self._groups:
                for conn in group:
                    mine = [n for n in gone if n in conn.streams]
                    if mine:
                        await conn.unsubscribe(mine)
            for name in gone:
                self._handlers.pop(name, None)
                if "@depth" in name:
                    self._drop_book(split_stream_name(name)[0])

    def _drop_book(self, venue_symbol: str) -> None:
        book = self._books.pop(venue_symbol, None)
        if book is not None:
            self._routes.pop(book.stream, None)
        close = getattr(book.stage, "close", None) if book is not None else None
        if close is not None:
            close()  # the core's stage stops refreshing this symbol

    # -- stream plumbing -----------------------------------------------------------------
    def _stream_name(self, spec: StreamSpec) -> str:
        if spec.type not in _SUPPORTED:
            raise ControlError(f"binance does not stream {spec.type} events")
        venue = self._symbols.instrument(spec.symbol).venue_symbol.lower()
        s = self.settings
        if spec.type in _BOOK_TYPES:
            return f"{venue}@{s.depth_stream_suffix}"
        if spec.type is EventType.TRADE:
            return f"{venue}@trade"
        if spec.type is EventType.TICKER:
            return f"{venue}@{s.ticker_channel}"
        return f"{venue}@kline_{s.kline_interval}"

    async def _subscribe_group(
        self, gi: int, group: list[StreamConnection], names: list[str]
    ) -> None:
        todo = list(names)
        while todo:
            conn = next((c for c in group if c.room > 0), None)
            if conn is None:
                conn = await self._open_connection(f"{self.provider_id}-{gi}.{len(group)}")
                group.append(conn)
            batch, todo = todo[: conn.room], todo[conn.room :]
            await conn.subscribe(batch)

    async def _open_connection(self, name: str) -> StreamConnection:
        if self._tg is None:
            raise VenueConnectionError("binance provider is not running", venue="binance")
        conn = StreamConnection(
            self.settings.ws_url,
            name=name,
            on_data=self._on_data,
            routes=self._routes,
            on_resubscribed=self._on_resubscribed,
            on_reject=self.ctx.reject_frame,
            capacity=self.settings.max_streams_per_connection,
            messages_per_second=self.settings.control_messages_per_second,
            lifetime_s=self.settings.connection_lifetime_s,
            telemetry=self.ctx.telemetry,
            clock=self.ctx.clock,
            connect_kwargs=self._ws_kwargs,
        )
        await self._tg.start(conn.run)
        return conn

    async def _on_resubscribed(self, conn: StreamConnection, reconnected: bool) -> None:
        if not reconnected:
            return  # planned rollover: the old socket kept the diffs flowing
        for name in conn.streams:
            if "@depth" in name:
                book = self._books.get(split_stream_name(name)[0])
                if book is not None:
                    book.stage.request_resync(ResyncReason.RECONNECT)

    def _on_data(self, stream: str, data: bytes | str, ts_ingest: int) -> None:
        """A data frame of a stream without its own route (trades, tickers, klines, junk).

        Reader task, hot path: never raises. The frame is decoded once, straight into its
        payload Struct; one that does not fit, names an unknown symbol or carries a bad
        value is rejected through ``ctx.reject_frame``.
        """
        try:
            handle = self._handlers.get(stream) or self._handler_of(stream)
            event = handle(data, ts_ingest)
        except FrameRejected as exc:
            self._reject(exc.reason, exc.detail)
        except msgspec.ValidationError as exc:
            self._reject("schema", f"{stream:.60}: {exc}")
        except msgspec.DecodeError as exc:
            self._reject("decode", f"{stream:.60}: {exc}")
        except RecursionError:
            self._reject("too_deep", f"{stream:.60}: nested too deeply")
        else:
            if event is not None:
                self.ctx.emit(event)

    def _handler_of(self, stream: str) -> Callable[[bytes | str, int], Event | None]:
        """Decode-and-parse of a trade / ticker / kline stream, kept per stream name.

        The cache is bounded (:data:`_MAX_HANDLERS`; past it handlers are built per frame).
        A depth frame of a listed symbol without a book (unsubscribed, still in flight) is
        ignored; one of a symbol not listed, or a stream of an unknown channel, is rejected.
        """
        venue_symbol, _, channel = stream.partition("@")
        if channel.startswith("depth"):
            self._parser.canonical(venue_symbol.upper())  # FrameRejected when not listed
            return _ignore
        handler = market_handler(channel, self._parser)
        if handler is None:
            raise FrameRejected("schema", f"unknown stream {stream!r:.60}")
        if len(self._handlers) < _MAX_HANDLERS:
            self._handlers[stream] = handler
        return handler

    def _reject(self, reason: str, detail: str, symbol: Symbol | None = None) -> None:
        self.ctx.reject_frame(reason, detail=detail, symbol=symbol)

    # -- books ---------------------------------------------------------------------------
    def _ensure_book(self, symbol: Symbol) -> DepthFeed:
        inst = self._symbols.instrument(symbol)
        book = self._books.get(inst.venue_symbol)
        if book is None:
            assembler = BinanceBookAssembler(
                inst.symbol,
                inst.venue_symbol,
                provider_id=self.provider_id,
                values=self._values,
            )
            stage = self.ctx.book_stage(
                inst.symbol,
                inst.venue_symbol,
                assembler,
                resync=self._resync,
                reconcile=self._reconcile,
            )
            stream = f"{inst.venue_symbol.lower()}@{self.settings.depth_stream_suffix}"
            book = DepthFeed(stream, assembler, stage, self._reject)
            self._books[inst.venue_symbol] = book
            self._routes[stream] = book.on_frame
        return book

    async def _snapshot(self, venue_symbol: str) -> BinanceDepthSnapshotMsg:
        if self._http is None:
            raise VenueConnectionError("binance provider is not running", venue="binance")
        limit = self.settings.depth
        body = await self._http.request(
            depth_weight(limit), params={"symbol": venue_symbol, "limit": limit}, raw=True
        )
        return decode_depth_snapshot(body)

    async def _resync(self, symbol: Symbol, reason: ResyncReason) -> None:
        """Book stage callback: fetch a REST snapshot once diffs are being buffered."""
        del reason
        venue_symbol = self._symbols.to_venue(symbol)
        book = self._books.get(venue_symbol)
        if book is None:
            return
        book.diff_waiter = None
        await book.next_diff(self._first_diff_wait_s)
        snap = await self._snapshot(venue_symbol)
        try:
            book.stage.on_snapshot(snap, self.ctx.clock.monotonic_ns())
        except FrameRejected as exc:
            # Counted here; raised on so the stage retries with backoff.
            self._reject(exc.reason, f"REST snapshot: {exc.detail}")
            raise

    async def _reconcile(self, symbol: Symbol) -> int | None:
        """Book stage callback: divergent levels against a fresh snapshot (None: not now)."""
        venue_symbol = self._symbols.to_venue(symbol)
        book = self._books.get(venue_symbol)
        now = self.ctx.clock.monotonic_ns()
        if book is None or now - book.reconciled_ns < self.settings.refresh_interval_s * 1e9:
            return None
        book.reconciled_ns = now
        assembler = book.assembler
        assembler.record_history(True)  # what a snapshot taken behind the book needs
        try:
            snap = await self._snapshot(venue_symbol)
            for _ in range(3):  # let the stream catch up with a snapshot taken ahead of it
                if assembler.can_reconcile(snap):
                    return assembler.reconcile(snap)
                await book.next_diff(self._first_diff_wait_s)
        except FrameRejected as exc:
            self._reject(exc.reason, f"REST snapshot: {exc.detail}")
            raise
        finally:
            assembler.record_history(False)
        return None

"""The Coinbase market-data provider (``Provider`` of ``tradegw_core.contracts``).

Channels: ``level2`` (-> BookSnapshot/BookUpdate through the core's book stage),
``market_trades`` (-> Trade), ``ticker`` (-> Ticker), ``candles`` (-> KlineSummary), plus
``heartbeats`` on every connection so quiet channels are not closed after 60-90 s.

Venue rules (protocol notes sections 1-2): one channel per subscribe message, every
(un)subscribe acked by a ``subscriptions`` frame listing everything the socket is
subscribed to (no request id, so one request per socket is in flight at a time), at most
8 client messages per second (``send_limiter``), a subscribe within 5 s of connecting
(``on_connect`` sends ``heartbeats`` first), a fresh JWT on each message when credentials
are configured. ``connections_per_stream`` sockets carry trades, tickers and candles
(downstream dedup by event id keeps the first copy); books come from the first socket only,
because ``sequence_num`` is per socket. A gap on that socket's counter (any channel) puts
every book on it into resync; a book resync is an unsubscribe + subscribe of the product,
whose fresh in-band snapshot replaces the book. The periodic refresh compares the book
with ``GET /market/product_book`` and counts divergent levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from tradegw_coinbase.book import CoinbaseBookAssembler, CoinbaseBookSnapshot
from tradegw_coinbase.config import CoinbaseSettings
from tradegw_coinbase.http import PRODUCT_BOOK, JwtSigner, load_instruments, make_http
from tradegw_coinbase.market_socket import MarketSocket
from tradegw_coinbase.parsing import l2_item, parse_product_book, parse_time_ns
from tradegw_coinbase.schemas import CoinbaseL2DataMsg, CoinbaseProductBookMsg
from tradegw_core.contracts import BookStage, ResyncReason, StreamSpec
from tradegw_core.dispatcher.ordering import OrderingMode, declare_modes
from tradegw_core.errors import ControlError, RejectedFrameError, SchemaError, VenueConnectionError
from tradegw_core.schema.events import EventType
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["CHANNEL_OF", "ORDERING_MODES", "CoinbaseProvider"]

ORDERING_MODES = {
    EventType.BOOK_UPDATE: OrderingMode.MONOTONIC,
    EventType.TRADE: OrderingMode.MONOTONIC,
    EventType.TICKER: OrderingMode.MONOTONIC,
}
"""Declared to the dispatcher at start-up. ``seq_provider`` is ``(epoch << 32) |
sequence_num``: one counter per connection across every channel, so it is contiguous per
connection but never per stream (other channels take the values in between), and two
sockets have different epochs. Every stream is therefore monotonic: nothing is held, and a
copy from the other socket cannot fill a gap (gaps are the book assembler's business)."""

CHANNEL_OF: Mapping[EventType, str] = {
    EventType.BOOK_SNAPSHOT: "level2",
    EventType.BOOK_UPDATE: "level2",
    EventType.TRADE: "market_trades",
    EventType.TICKER: "ticker",
    EventType.KLINE_SUMMARY: "candles",
}
SNAPSHOT_TIMEOUT_S = 10.0


class CoinbaseProvider:
    """Coinbase Advanced Trade market data (module docstring)."""

    def __init__(
        self,
        ctx: Any,
        *,
        transport: Any = None,
        ws_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        declare_modes(ctx, ORDERING_MODES)
        self.provider_id: str = ctx.provider_id
        self.settings: CoinbaseSettings = ctx.settings or CoinbaseSettings()
        self.clock = ctx.clock
        self.telemetry = ctx.telemetry
        self.ws_options = dict(ws_options or {})
        self.signer = JwtSigner.from_settings(self.settings, self.clock)
        self._client, self.http = make_http(
            self.settings, signer=self.signer, transport=transport, clock=self.clock
        )
        self._instruments: dict[Symbol, Instrument] = {}
        self._streams: set[StreamSpec] = set()
        self._stages: dict[str, BookStage] = {}
        self._assemblers: dict[str, CoinbaseBookAssembler] = {}
        self._snapshot_seen: dict[str, anyio.Event] = {}
        self._reconciled: dict[str, int] = {}
        self._sockets: list[MarketSocket] = []
        self._epochs = 0
        self._last_ts: list[Any] = ["", 0]
        """The last l2_data timestamp's date and time to the second (parse_time_ns cache)."""
        self.gaps = 0

    def next_epoch(self) -> int:
        """A provider-unique connection epoch (see :mod:`tradegw_coinbase.book`)."""
        self._epochs += 1
        return self._epochs

    # ------------------------------------------------------------------ contract
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load instruments, open the sockets, then run until cancelled."""
        async with self._client:
            self._instruments = await load_instruments(self.http, self.settings, self.provider_id)
            self._sockets = [
                MarketSocket(self, i) for i in range(self.settings.connections_per_stream)
            ]
            async with anyio.create_task_group() as tg:
                for sock in self._sockets:
                    await tg.start(sock.ws.run)
                task_status.started()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Spot products by canonical symbol (= product id)."""
        return self._instruments

    def supported_types(self) -> frozenset[EventType]:
        """Books, trades, tickers and 5-minute klines."""
        return frozenset(CHANNEL_OF)

    def wanted_channels(self, with_books: bool) -> dict[str, set[str]]:
        """channel -> product ids wanted now (``level2`` only for the book socket)."""
        out: dict[str, set[str]] = {}
        for spec in self._streams:
            channel = CHANNEL_OF[spec.type]
            if channel != "level2" or with_books:
                out.setdefault(channel, set()).add(self._venue(spec.symbol))
        return out

    def _venue(self, symbol: str) -> str:
        inst = self._instruments.get(Symbol(symbol))
        if inst is None:
            known = ", ".join(sorted(self._instruments)[:10]) or "none loaded"
            raise ControlError(f"unknown Coinbase symbol {symbol!r} (known: {known}...)")
        return inst.venue_symbol

    def _check(self, streams: Sequence[StreamSpec]) -> None:
        for spec in streams:
            if spec.type not in CHANNEL_OF:
                raise ControlError(f"Coinbase does not stream {spec.type}")
            self._venue(spec.symbol)

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Subscribe new streams on every socket (books on the first); returns once acked."""
        self._check(streams)
        added = set(streams) - self._streams
        before = self.wanted_channels(True)
        self._streams.update(added)
        after = self.wanted_channels(True)
        try:
            for channel, products in sorted(after.items()):
                new = sorted(products - before.get(channel, set()))
                if not new:
                    continue
                if channel == "level2":
                    for pid in new:
                        self._book_stage(pid)
                for sock in self._sockets:
                    if channel != "level2" or sock.carries_books:
                        await sock.request("subscribe", channel, new)
        except BaseException:
            # Not subscribed: forget the streams so a reconnect does not resubscribe them.
            self._streams.difference_update(added)
            for pid in set(self._stages) - self.wanted_channels(True).get("level2", set()):
                self._drop_book(pid)
            raise

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Unsubscribe streams nobody wants any more, keeping the sockets open."""
        before = self.wanted_channels(True)
        self._streams.difference_update(streams)
        after = self.wanted_channels(True)
        for channel, products in sorted(before.items()):
            gone = sorted(products - after.get(channel, set()))
            if not gone:
                continue
            for sock in self._sockets:
                if channel != "level2" or sock.carries_books:
                    await sock.request("unsubscribe", channel, gone)
            if channel == "level2":
                for pid in gone:
                    self._drop_book(pid)

    # ------------------------------------------------------------------ books
    def _book_stage(self, pid: str) -> None:
        symbol = Symbol(pid)
        inst = self._instruments[symbol]
        assembler = CoinbaseBookAssembler(
            symbol,
            pid,
            price_precision=inst.price_precision,
            qty_precision=inst.qty_precision,
            provider=self.provider_id,
            run=self.ctx.run_epoch,
        )
        self._assemblers[pid] = assembler
        self._stages[pid] = self.ctx.book_stage(
            symbol, pid, assembler, resync=self._resync, reconcile=self._reconcile
        )

    def _drop_book(self, pid: str) -> None:
        stage = self._stages.pop(pid, None)
        self._assemblers.pop(pid, None)
        close = getattr(stage, "close", None)
        if close is not None:
            close()

    def on_l2(self, msg: CoinbaseL2DataMsg, epoch: int, ts_ingest: int) -> None:
        """Route each product's snapshot or diff to its stage.

        A product event that cannot be used (bad value, crossed result, malformed event)
        is rejected through ``ctx.reject_frame`` with its symbol, which resyncs that book;
        the frame's other products are unaffected.
        """
        ts = parse_time_ns(msg.timestamp, self._last_ts)
        for event in msg.events:
            pid = event.product_id
            stage = self._stages.get(pid)
            if stage is None:
                if Symbol(pid) not in self._instruments:
                    self.ctx.reject_frame("unknown_symbol", detail=f"l2_data {pid[:40]!r}")
                continue
            try:
                item = l2_item(event, msg.sequence_num, epoch, ts)
                if isinstance(item, CoinbaseBookSnapshot):
                    stage.on_snapshot(item, ts_ingest)
                    seen = self._snapshot_seen.get(pid)
                    if seen is not None:
                        seen.set()
                else:
                    stage.on_diff(item, ts_ingest)
            except RejectedFrameError as exc:
                self.ctx.reject_frame(exc.reason, detail=str(exc), symbol=Symbol(pid))
            except SchemaError as exc:
                self.ctx.reject_frame("schema", detail=str(exc), symbol=Symbol(pid))
            except Exception as exc:  # the book may be half-changed: resync it
                detail = type(exc).__name__
                self.ctx.reject_frame("handler_error", detail=detail, symbol=Symbol(pid), exc=exc)

    def on_gap(self, sock: MarketSocket) -> None:
        """A ``sequence_num`` gap: every book on that socket may have lost an update."""
        self.gaps += 1
        expected, got = sock.seq.last_gap or (0, 0)
        detail = f"sequence_num {got} after {expected - 1} on connection {sock.index}"
        self.telemetry.emit(
            "coinbase.sequence_gap", provider=self.provider_id, expected=expected, received=got
        )
        if sock.carries_books:
            self.invalidate_books(detail)

    def invalidate_books(self, detail: str) -> None:
        """Distrust every book (a message of the book socket was lost or unreadable)."""
        for stage in list(self._stages.values()):
            stage.request_resync(ResyncReason.GAP, detail)

    def on_reconnect(self) -> None:
        """The book socket was replaced: distrust every book until its new snapshot."""
        for stage in list(self._stages.values()):
            stage.request_resync(ResyncReason.RECONNECT, "market data connection replaced")

    async def _resync(self, symbol: Symbol, reason: ResyncReason) -> None:
        """Resubscribe ``level2`` for the product and wait for its fresh snapshot.

        Nothing to do when a snapshot already arrived since the request (the assembler was
        reset by it): e.g. the resubscription after a reconnect brought one.
        """
        pid = self._venue(symbol)
        assembler = self._assemblers.get(pid)
        if assembler is None or assembler.synced or not self._sockets:
            return
        seen = self._snapshot_seen[pid] = anyio.Event()
        sock = self._sockets[0]
        try:
            await sock.request("unsubscribe", "level2", [pid])
            await sock.request("subscribe", "level2", [pid])
            with anyio.fail_after(SNAPSHOT_TIMEOUT_S):
                await seen.wait()
        except TimeoutError as exc:
            raise VenueConnectionError(f"no level2 snapshot for {pid} after resubscribing") from exc
        finally:
            self._snapshot_seen.pop(pid, None)

    async def _reconcile(self, symbol: Symbol) -> int | None:
        """Compare the book with a fresh REST product book; the number of divergent levels.

        The core's book stage schedules refreshes; this adds the provider's own floor,
        ``refresh_interval_s`` between two REST reconciles of one product (None before).
        """
        pid = self._venue(symbol)
        assembler = self._assemblers.get(pid)
        now = self.clock.monotonic_ns()
        last = self._reconciled.get(pid)
        if assembler is None or (
            last is not None and now - last < self.settings.refresh_interval_s * 1e9
        ):
            return None  # refresh_interval_s not over yet: no REST call
        self._reconciled[pid] = now
        data = await self.http.request(
            PRODUCT_BOOK, params={"product_id": pid, "limit": self.settings.product_book_limit}
        )
        book = parse_product_book(msgspec.convert(data, CoinbaseProductBookMsg, strict=False))
        return assembler.reconcile(book)

    def assembler(self, symbol: str) -> CoinbaseBookAssembler | None:
        """The book assembler of a subscribed product (tests and diagnostics)."""
        return self._assemblers.get(symbol)

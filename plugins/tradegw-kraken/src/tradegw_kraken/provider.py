"""The Kraken market-data provider over WebSocket v2 (book, trade, ticker, ohlc).

``run`` loads the pairs from REST ``AssetPairs`` (precisions for the checksum), opens
``connections_per_stream`` reconnecting sockets and reloads the pairs every
``refresh_interval_s``. ``subscribe`` sends one request per channel and waits for one ack
per symbol; a refusal raises with the venue's words. Books go on the first socket only (a
second copy would feed the same assembler twice); trades, tickers and candles go on every
socket and the dispatcher's dedup keeps the first copy.

A book's resync is an unsubscribe + subscribe of that symbol: the fresh snapshot arrives
on the WebSocket and replaces the book. After a reconnect every subscription is sent
again on the new socket (``book.resync{reason=reconnect}`` is reported per book).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import httpx
import msgspec
from anyio.abc import TaskStatus

from tradegw_core.contracts import BookStage, ProviderContext, ResyncReason, StreamSpec
from tradegw_core.dispatcher.ordering import OrderingMode, declare_modes
from tradegw_core.errors import ControlError, VenueConnectionError, VenueError
from tradegw_core.net.http import VenueHttp, make_async_client
from tradegw_core.net.ws import WsClient, WsConnection
from tradegw_core.schema.events import EventType
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_kraken.book import KrakenBookAssembler
from tradegw_kraken.config import KrakenSettings, reconnect_backoff
from tradegw_kraken.errors import map_error
from tradegw_kraken.frames import MarketFrames
from tradegw_kraken.http import ASSET_PAIRS, rest_error_mapper
from tradegw_kraken.parsing import KrakenDecoders
from tradegw_kraken.schemas import (
    KrakenOhlcMsg,
)
from tradegw_kraken.symbols import KrakenSymbolMap, decode_asset_pairs, pairs_from_asset_pairs
from tradegw_kraken.wsrequests import PendingRequests

__all__ = ["ORDERING_MODES", "KrakenProvider"]

ORDERING_MODES = {
    EventType.TRADE: OrderingMode.CONTIGUOUS,
    EventType.BOOK_UPDATE: OrderingMode.MONOTONIC,
    EventType.TICKER: OrderingMode.MONOTONIC,
}
"""Declared to the dispatcher at start-up. ``trade_id`` is sequential per pair (protocol
notes), and trades run on every socket, so a trade missing on one socket is waited for
from the other (A/B). The v2 book and ticker carry no sequence number at all (the book's
integrity is its CRC32): they order by arrival."""

_CHANNELS = {
    EventType.BOOK_SNAPSHOT: "book",
    EventType.BOOK_UPDATE: "book",
    EventType.TRADE: "trade",
    EventType.TICKER: "ticker",
    EventType.KLINE_SUMMARY: "ohlc",
}


class KrakenProvider(MarketFrames):
    """Kraken spot market data; implements ``tradegw_core.contracts.Provider``."""

    def __init__(
        self,
        ctx: ProviderContext,
        *,
        transport: Any = None,
        ws_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._ctx = ctx
        declare_modes(ctx, ORDERING_MODES)
        self._settings: KrakenSettings = ctx.settings or KrakenSettings()
        self._name = ctx.provider_id
        self._transport = transport
        self._ws_options = dict(ws_options or {})
        self._symbols = KrakenSymbolMap(())
        self._decoders = KrakenDecoders()
        self._requests = PendingRequests()
        self._clients: list[WsClient] = []
        self._wanted: dict[str, set[Symbol]] = {c: set() for c in set(_CHANNELS.values())}
        self._book_types: dict[Symbol, set[EventType]] = {}
        self._stages: dict[Symbol, BookStage] = {}
        self._candles: dict[Symbol, KrakenOhlcMsg] = {}
        self.system_status = "unknown"
        """The venue's last ``status.system`` (``online``, ``maintenance``, ...)."""

    # ------------------------------------------------------------------ lifecycle
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load pairs, connect, then keep the pair table fresh until cancelled."""
        s = self._settings
        client = make_async_client(
            s.rest_url, transport=self._transport, timeout=httpx.Timeout(s.request_timeout_s)
        )
        try:
            async with client, anyio.create_task_group() as tg:
                http = VenueHttp(client, venue=self._name, error_mapper=rest_error_mapper)
                await self._load_instruments(http)
                for index in range(s.connections_per_stream):
                    ws = WsClient(
                        s.ws_public_url,
                        on_frame=self._on_frame,
                        on_connect=functools.partial(self._on_connect, index),
                        name=f"{self._name}-md{index}",
                        on_reject=self._ctx.reject_frame,
                        telemetry=self._ctx.telemetry,
                        stale_after_s=s.heartbeat_timeout_s,
                        app_ping=lambda: {"method": "ping"},
                        backoff=reconnect_backoff(s),
                        app_ping_interval_s=max(1.0, s.heartbeat_timeout_s / 2),
                        **self._ws_options,
                    )
                    self._clients.append(ws)
                    await tg.start(ws.run)
                task_status.started()
                while True:
                    await anyio.sleep(s.refresh_interval_s)
                    try:
                        await self._load_instruments(http)
                    except VenueError as exc:
                        self._ctx.telemetry.emit(
                            "instruments.refresh_failed", provider=self._name, error=str(exc)[:200]
                        )
        except BaseExceptionGroup as group:
            raise _single(group) from None

    async def _load_instruments(self, http: VenueHttp) -> None:
        body = await http.request(ASSET_PAIRS)
        pairs = pairs_from_asset_pairs(decode_asset_pairs(msgspec.json.encode(body)), self._name)
        wanted = set(self._settings.symbols)
        self._symbols = KrakenSymbolMap(
            p for p in pairs if not wanted or p.instrument.symbol in wanted
        )

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Pairs by canonical symbol (after ``run`` started)."""
        return self._symbols.instruments()

    def supported_types(self) -> frozenset[EventType]:
        """Book snapshots/updates, trades, tickers and candles."""
        return frozenset(_CHANNELS)

    # ------------------------------------------------------------------ subscriptions
    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Subscribe what is not subscribed yet; returns once every symbol was acked."""
        for channel, symbols in self._group(streams).items():
            new = sorted(s for s in symbols if s not in self._wanted[channel])
            if channel == "book":
                for spec in streams:
                    if _CHANNELS[spec.type] == "book":
                        self._book_types.setdefault(spec.symbol, set()).add(spec.type)
                for sym in new:
                    self._make_stage(sym)
            if new:
                self._wanted[channel].update(new)
                failed = await self._request_all("subscribe", channel, new)
                for sym in failed:
                    self._drop(channel, sym)
                if failed:
                    raise next(iter(failed.values()))

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Unsubscribe (the socket stays open); a book goes when no book type is wanted."""
        for channel, symbols in self._group(streams).items():
            gone = []
            for sym in sorted(symbols):
                if channel == "book":
                    types = self._book_types.get(sym, set())
                    types.difference_update(s.type for s in streams if s.symbol == sym)
                    if types:
                        continue
                if sym in self._wanted[channel]:
                    gone.append(sym)
            for sym in gone:
                self._drop(channel, sym)
            if gone:
                await self._request_all("unsubscribe", channel, gone)

    def _group(self, streams: Sequence[StreamSpec]) -> dict[str, set[Symbol]]:
        groups: dict[str, set[Symbol]] = {}
        for spec in streams:
            channel = _CHANNELS.get(spec.type)
            if channel is None:
                raise ControlError(f"Kraken does not stream {spec.type}")
            if spec.symbol not in self._symbols:
                raise ControlError(f"Kraken has no pair {spec.symbol!r}")
            groups.setdefault(channel, set()).add(spec.symbol)
        return groups

    def _make_stage(self, sym: Symbol) -> None:
        inst = self._symbols.instrument(sym)
        assembler = KrakenBookAssembler(inst, self._settings.book_depth)
        self._stages[sym] = self._ctx.book_stage(
            sym, inst.venue_symbol, assembler, resync=self._resync_book, reconcile=_no_reconcile
        )

    def _drop(self, channel: str, sym: Symbol) -> None:
        self._wanted[channel].discard(sym)
        if channel == "book":
            self._book_types.pop(sym, None)
            stage = self._stages.pop(sym, None)
            close = getattr(stage, "close", None)
            if close is not None:
                close()
        elif channel == "ohlc":
            self._candles.pop(sym, None)

    def _params(self, channel: str) -> dict[str, Any]:
        if channel == "book":
            return {"depth": self._settings.book_depth, "snapshot": True}
        if channel == "ohlc":
            return {"interval": self._settings.ohlc_interval, "snapshot": False}
        if channel == "trade":
            return {"snapshot": False}
        return {}

    async def _request_all(
        self, method: str, channel: str, symbols: Sequence[Symbol]
    ) -> dict[Symbol, VenueError]:
        clients = self._clients[:1] if channel == "book" else self._clients
        failed: dict[Symbol, VenueError] = {}
        for ws in clients:
            failed.update(await self._request(ws.send, method, channel, symbols))
        return failed

    async def _request(
        self, send: Any, method: str, channel: str, symbols: Sequence[Symbol]
    ) -> dict[Symbol, VenueError]:
        names = {self._symbols.to_venue(s): s for s in symbols}
        req = self._requests.open(names)
        params = {"channel": channel, "symbol": sorted(names), **self._params(channel)}
        try:
            await send({"method": method, "params": params, "req_id": req.req_id})
            with anyio.fail_after(self._settings.request_timeout_s):
                await req.done.wait()
        except TimeoutError:
            raise VenueConnectionError(
                f"Kraken did not ack {method} {channel} {sorted(names)} within "
                f"{self._settings.request_timeout_s} s",
                venue=self._name,
            ) from None
        finally:
            self._requests.close(req)
        context = f"{method} {channel}"
        return {names[n]: map_error(e, context=f"{context} {n}") for n, e in req.errors.items()}

    async def _resync_book(self, symbol: Symbol, reason: ResyncReason) -> None:
        """Unsubscribe + subscribe one book: the venue's snapshot arrives on the socket."""
        if not self._clients or symbol not in self._wanted["book"]:
            return
        send = self._clients[0].send
        await self._request(send, "unsubscribe", "book", [symbol])
        failed = await self._request(send, "subscribe", "book", [symbol])
        if failed:
            raise failed[symbol]

    async def _on_connect(self, index: int, conn: WsConnection) -> None:
        """Send every current subscription on a new socket (first connect or reconnect)."""
        for channel, symbols in self._wanted.items():
            if not symbols or (channel == "book" and index != 0):
                continue
            if channel == "book" and conn.number > 1:
                for sym in symbols:
                    self._ctx.telemetry.emit(
                        "book.resync", provider=self._name, symbol=sym, reason="reconnect"
                    )
            await self._request(conn.send, "subscribe", channel, sorted(symbols))
        if conn.number > 1:
            self._ctx.telemetry.emit("ws.resubscribed", provider=self._name, connection=index)


async def _no_reconcile(symbol: Symbol) -> int | None:
    """Kraken's checksum verifies every message: the periodic REST reconcile is not needed."""
    return None


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """A lone error out of the task group, as itself (else the group)."""
    if len(group.exceptions) == 1:
        return group.exceptions[0]
    return group

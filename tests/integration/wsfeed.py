"""A minimal WebSocket provider for the end-to-end tests: ``contracts.Provider`` over WsClient.

It speaks the tiny JSON protocol of the loopback venue in :mod:`.wsvenue`:

* client -> venue: ``{"op": "subscribe" | "unsubscribe", "id": n, "channels": [...]}``
  (answered by ``{"op": "ack", "id": n}``) and ``{"op": "snapshot", "channel": c}``;
* venue -> client: ``{"ch": "trade", "sym", "seq", "px", "qty", "side"}`` and
  ``{"ch": "book", "sym", "type": "snapshot" | "diff", "seq" | "first"/"last", "bids",
  "asks"}`` with levels as ``[price, qty]`` strings.

Channels are ``trade:<venue symbol>`` and ``book:<venue symbol>``; a channel is subscribed
on the venue when the first stream needing it is wanted and unsubscribed when the last one
goes. Book channels are driven through ``ctx.book_stage`` with :class:`TinyBookAssembler`;
the resync callback asks the venue for a snapshot over the socket and returns once it was
applied. Every (re)connect resubscribes every wanted channel and resyncs every book.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import (
    BookOutput,
    BookStage,
    ProviderContext,
    ResyncNeeded,
    ResyncReason,
    StreamSpec,
)
from tradegw_core.errors import VenueError
from tradegw_core.net.backoff import Backoff
from tradegw_core.net.ws import WsClient, WsConnection
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    Level,
    Side,
    Trade,
    make_event_id,
)
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["BookMsg", "TinyBookAssembler", "WsFeedProvider", "WsFeedSettings"]

_BOOK_TYPES = frozenset({EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE})


class WsFeedSettings(BaseModel):
    """``[providers.wsfeed]``: where the venue is and how patient to be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    symbols: tuple[str, ...] = ("BTC-USDT", "ETH-USDT")
    stale_after_s: float | None = None
    max_frame_bytes: int = 2**20
    backoff_base_s: float = 0.01
    backoff_cap_s: float = 0.05
    ack_timeout_s: float = 1.0


class BookMsg(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed book frame: a snapshot at ``last`` or a diff covering ``first``..``last``."""

    first: int
    last: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class TinyBookAssembler:
    """A sans-I/O assembler for the loopback venue (``contracts.BookAssembler``).

    Diffs must continue at ``last + 1``. Unsynced, diffs are buffered (bounded: the oldest
    goes, and the replay then finds the gap); a snapshot replays what is newer than it.
    """

    def __init__(self, provider: str, symbol: Symbol, venue_symbol: str, max_buffer: int = 64):
        self.provider = provider
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self._book = OrderBook()
        self._synced = False
        self._seq = 0
        self._buffer: deque[BookMsg] = deque(maxlen=max_buffer)

    @property
    def synced(self) -> bool:
        """True when the book is consistent with the venue."""
        return self._synced

    @property
    def book(self) -> OrderBook:
        """The local book."""
        return self._book

    def reset(self) -> None:
        """Drop the book; buffer diffs until the next snapshot."""
        self._synced = False
        self._book.clear()
        self._buffer.clear()

    def apply_snapshot(self, msg: BookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Load ``msg`` and replay the buffered diffs newer than it."""
        self._book.load(msg.bids, msg.asks)
        self._seq = msg.last
        pending, self._buffer = list(self._buffer), deque(maxlen=self._buffer.maxlen)
        for diff in pending:
            if diff.last <= self._seq:
                continue
            if diff.first != self._seq + 1:
                self.reset()
                return [ResyncNeeded(symbol=self.symbol, reason=ResyncReason.GAP, detail="old")]
            self._apply(diff)
        self._synced = True
        return [
            BookSnapshot(
                event_id=make_event_id(self.provider, self.symbol, "BookSnapshot", self._seq),
                provider=self.provider,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=self._seq,
                ts_ingest=ts_ingest,
                bids=tuple(self._book.top_bids()),
                asks=tuple(self._book.top_asks()),
            )
        ]

    def apply_diff(self, msg: BookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply ``msg`` (one BookUpdate), buffer it while unsynced, or report a gap."""
        if not self._synced:
            self._buffer.append(msg)
            return ()
        if msg.last <= self._seq:
            return ()
        if msg.first != self._seq + 1:
            self._synced = False
            detail = f"expected {self._seq + 1}, got {msg.first}"
            return [ResyncNeeded(symbol=self.symbol, reason=ResyncReason.GAP, detail=detail)]
        prev = self._seq
        self._apply(msg)
        return [
            BookUpdate(
                event_id=make_event_id(self.provider, self.symbol, "BookUpdate", msg.last),
                provider=self.provider,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=msg.last,
                ts_ingest=ts_ingest,
                bids=msg.bids,
                asks=msg.asks,
                first_seq=msg.first,
                last_seq=msg.last,
                prev_seq=prev,
            )
        ]

    def reconcile(self, msg: BookMsg) -> int:
        """Levels in which the local book differs from snapshot ``msg``."""
        other = OrderBook()
        other.load(msg.bids, msg.asks)
        return self._book.diff_levels(other)

    def _apply(self, diff: BookMsg) -> None:
        for lv in diff.bids:
            self._book.set_bid(lv.price, lv.qty)
        for lv in diff.asks:
            self._book.set_ask(lv.price, lv.qty)
        self._seq = diff.last


class _BookFeed:
    """One subscribed book channel: its stage and the waiter of an asked-for snapshot."""

    def __init__(self, stage: BookStage) -> None:
        self.stage = stage
        self.snapshot_applied = anyio.Event()


def _levels(raw: Sequence[Sequence[str]]) -> tuple[Level, ...]:
    levels = tuple(Level(Decimal(p), Decimal(q)) for p, q in raw)
    for level in levels:
        if not (level.price.is_finite() and level.qty.is_finite()) or level.price <= 0:
            raise ValueError(f"bad level {level.price} x {level.qty}")
    return levels


def _channel(spec: StreamSpec, venue_symbol: str) -> str:
    kind = "book" if spec.type in _BOOK_TYPES else "trade"
    return f"{kind}:{venue_symbol}"


class WsFeedProvider:
    """The loopback venue's provider (``contracts.Provider``); see the module docstring."""

    def __init__(self, ctx: ProviderContext, *, backoff: Backoff | None = None) -> None:
        settings: WsFeedSettings = ctx.settings
        self.ctx = ctx
        self.settings = settings
        self._instruments: dict[Symbol, Instrument] = {}
        for name in settings.symbols:
            base, quote = name.split("-")
            self._instruments[Symbol(name)] = Instrument(
                provider=ctx.provider_id,
                symbol=Symbol(name),
                venue_symbol=base + quote,
                base=base,
                quote=quote,
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.001"),
            )
        self._symbols = {i.venue_symbol: i.symbol for i in self._instruments.values()}
        self.wanted: set[StreamSpec] = set()
        self.channels: set[str] = set()
        self.books: dict[str, _BookFeed] = {}
        self._acks: dict[int, anyio.Event] = {}
        self._ids = itertools.count(1)
        self.backoff = backoff or Backoff(
            base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s
        )
        self.ws = WsClient(
            settings.url,
            on_frame=self._on_frame,
            on_connect=self._on_connect,
            name=ctx.provider_id,
            telemetry=ctx.telemetry,
            clock=ctx.clock,
            stale_after_s=settings.stale_after_s,
            backoff=self.backoff,
            close_timeout_s=1.0,
            max_frame_bytes=settings.max_frame_bytes,
            on_reject=ctx.reject_frame,
        )

    # -- contracts.Provider ----------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Connect; started once the socket is open; run until cancelled."""
        await self.ws.run(task_status=task_status)

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """The configured pairs."""
        return self._instruments

    def supported_types(self) -> frozenset[EventType]:
        """Trades and the book."""
        return frozenset({EventType.TRADE}) | _BOOK_TYPES

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Subscribe the channels no wanted stream needed before; start their books."""
        self.wanted.update(streams)
        new = sorted({self._channel(s) for s in streams} - self.channels)
        for channel in new:
            if channel.startswith("book:"):
                self._start_book(channel)
        try:
            if new:
                await self._request("subscribe", new)
        except BaseException:
            self.wanted.difference_update(streams)
            for channel in new:
                self._stop_book(channel)
            raise
        self.channels.update(new)
        for channel in new:
            if channel in self.books:
                self.books[channel].stage.request_resync(ResyncReason.INITIAL)

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Unsubscribe the channels no wanted stream needs any more."""
        self.wanted.difference_update(streams)
        still = {self._channel(s) for s in self.wanted}
        gone = sorted(({self._channel(s) for s in streams} & self.channels) - still)
        if not gone:
            return
        self.channels.difference_update(gone)
        for channel in gone:
            self._stop_book(channel)
        await self._request("unsubscribe", gone)

    # -- internals -------------------------------------------------------------------

    def _channel(self, spec: StreamSpec) -> str:
        return _channel(spec, self._instruments[spec.symbol].venue_symbol)

    def _start_book(self, channel: str) -> None:
        venue_symbol = channel.split(":", 1)[1]
        symbol = self._symbols[venue_symbol]
        assembler = TinyBookAssembler(self.ctx.provider_id, symbol, venue_symbol)
        stage = self.ctx.book_stage(symbol, venue_symbol, assembler, resync=self._resync)
        self.books[channel] = _BookFeed(stage)

    def _stop_book(self, channel: str) -> None:
        feed = self.books.pop(channel, None)
        close = getattr(feed.stage, "close", None) if feed is not None else None
        if close is not None:
            close()

    async def _request(self, op: str, channels: Sequence[str], conn: Any = None) -> None:
        rid = next(self._ids)
        done = self._acks[rid] = anyio.Event()
        try:
            msg = {"op": op, "id": rid, "channels": list(channels)}
            await (conn.send(msg) if conn is not None else self.ws.send(msg))
            with anyio.fail_after(self.settings.ack_timeout_s):
                await done.wait()
        finally:
            del self._acks[rid]

    async def _on_connect(self, conn: WsConnection) -> None:
        if not self.channels:
            return
        try:
            await self._request("subscribe", sorted(self.channels), conn)
        except TimeoutError as exc:
            raise VenueError(f"{self.ctx.provider_id}: no ack to resubscribe") from exc
        for feed in self.books.values():
            feed.stage.request_resync(ResyncReason.RECONNECT)

    async def _resync(self, symbol: Symbol, reason: ResyncReason) -> None:
        channel = f"book:{self._instruments[symbol].venue_symbol}"
        feed = self.books.get(channel)
        if feed is None:
            return
        feed.snapshot_applied = anyio.Event()
        await self.ws.send({"op": "snapshot", "channel": channel})
        with anyio.fail_after(self.settings.ack_timeout_s):
            await feed.snapshot_applied.wait()

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        msg: dict[str, Any] = msgspec.json.decode(data)
        if msg.get("op") == "ack":
            waiter = self._acks.get(msg["id"])
            if waiter is not None:
                waiter.set()
            return
        symbol = self._symbols[msg["sym"]]
        if msg["ch"] == "trade":
            self.ctx.emit(
                Trade(
                    event_id=make_event_id(self.ctx.provider_id, symbol, "Trade", msg["seq"]),
                    provider=self.ctx.provider_id,
                    symbol=symbol,
                    venue_symbol=msg["sym"],
                    seq_provider=msg["seq"],
                    ts_ingest=ts_ingest,
                    trade_id=str(msg["seq"]),
                    price=Decimal(msg["px"]),
                    qty=Decimal(msg["qty"]),
                    side=Side(msg["side"]),
                )
            )
            return
        feed = self.books.get(f"book:{msg['sym']}")
        if feed is None:
            return  # a frame that was in flight when the channel was unsubscribed
        snapshot = msg["type"] == "snapshot"
        try:
            bids, asks = _levels(msg["bids"]), _levels(msg["asks"])
        except (ValueError, ArithmeticError) as exc:  # poisoned: drop it, resync that book
            self.ctx.reject_frame("value", detail=str(exc), symbol=symbol)
            return
        book = BookMsg(
            first=msg["seq"] if snapshot else msg["first"],
            last=msg["seq"] if snapshot else msg["last"],
            bids=bids,
            asks=asks,
        )
        if snapshot:
            feed.stage.on_snapshot(book, ts_ingest)
            feed.snapshot_applied.set()
        else:
            feed.stage.on_diff(book, ts_ingest)

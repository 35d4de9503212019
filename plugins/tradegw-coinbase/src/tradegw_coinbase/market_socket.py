"""One Coinbase market-data socket: its client, ``sequence_num`` check and subscription acks.

The venue acks every (un)subscribe with a ``subscriptions`` frame listing all subscriptions
of the socket and has no request id, so one request per socket is in flight at a time
(serialised by a lock); an ``error`` frame fails the request in flight. Frames are decoded
and routed to the owning :class:`~tradegw_coinbase.provider.CoinbaseProvider` in the reader
task (synchronous hot path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from tradegw_coinbase.book import ConnectionSequence, SeqVerdict
from tradegw_coinbase.errors import map_ws_error
from tradegw_coinbase.parsing import (
    CandleTracker,
    decode_frame,
    parse_candles,
    parse_ticker,
    parse_trades,
)
from tradegw_coinbase.schemas import (
    CoinbaseCandlesMsg,
    CoinbaseL2DataMsg,
    CoinbaseMarketTradesMsg,
    CoinbaseOtherMsg,
    CoinbaseSubscriptionsMsg,
    CoinbaseTickerBatchMsg,
    CoinbaseTickerMsg,
)
from tradegw_core.errors import (
    RejectedFrameError,
    SchemaError,
    VenueConnectionError,
    VenueError,
    VenueRejectedError,
)
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket
from tradegw_core.net.ws import WsClient, WsConnection

if TYPE_CHECKING:
    from tradegw_coinbase.provider import CoinbaseProvider

__all__ = ["MAX_FRAME_BYTES", "MarketSocket"]

MAX_FRAME_BYTES = 32 * 2**20
"""A ``level2`` snapshot is the whole book in one frame: several MB for busy products."""


@dataclass
class _Pending:
    """One (un)subscribe waiting for its ``subscriptions`` ack (or an error frame)."""

    done: anyio.Event = field(default_factory=anyio.Event)
    error: VenueError | None = None


class MarketSocket:
    """One market-data connection: its client, sequence counter and subscription acks."""

    def __init__(self, owner: CoinbaseProvider, index: int) -> None:
        self.owner = owner
        self.index = index
        self.carries_books = index == 0
        self.seq = ConnectionSequence(owner.next_epoch)
        self.acked: dict[str, list[str]] = {}
        self.candles = CandleTracker()
        self._pending: _Pending | None = None
        self._lock = anyio.Lock()
        s = owner.settings
        self.ws = WsClient(
            s.ws_market_url,
            on_frame=self.on_frame,
            on_connect=self.on_connect,
            name=f"{owner.provider_id}-md{index}",
            on_reject=owner.ctx.reject_frame,
            max_frame_bytes=MAX_FRAME_BYTES,
            telemetry=owner.telemetry,
            clock=owner.clock,
            stale_after_s=s.heartbeat_timeout_s,
            send_limiter=AsyncRateLimiter(
                TokenBucket(s.subscribe_messages_per_second, 1.0), clock=owner.clock
            ),
            **owner.ws_options,
        )

    async def request(
        self, kind: str, channel: str, products: Sequence[str], via: WsConnection | None = None
    ) -> None:
        """Send one (un)subscribe and wait for its ack; raise on an error frame."""
        msg: dict[str, Any] = {"type": kind, "channel": channel}
        if products:
            msg["product_ids"] = list(products)
        async with self._lock:
            pending = self._pending = _Pending()
            try:
                if self.owner.signer is not None:
                    msg["jwt"] = self.owner.signer.token()
                await (via.send(msg) if via is not None else self.ws.send(msg))
                with anyio.move_on_after(self.owner.settings.ack_timeout_s):
                    await pending.done.wait()
            finally:
                self._pending = None
        if pending.error is not None:
            raise pending.error
        if not pending.done.is_set():
            raise VenueConnectionError(f"Coinbase did not ack {kind} {channel} {list(products)}")
        listed = set(self.acked.get(channel, ()))
        missing = [p for p in products if p not in listed] if kind == "subscribe" else []
        if missing:
            raise VenueRejectedError(
                f"Coinbase did not subscribe {channel} for {missing}", code="failure to subscribe"
            )

    async def on_connect(self, conn: WsConnection) -> None:
        """(Re)subscribe everything wanted on a fresh socket, ``heartbeats`` first."""
        self.seq.restart()
        self.acked = {}
        if self._pending is not None:
            self._pending.error = VenueConnectionError("the connection was replaced")
            self._pending.done.set()
        if conn.number > 1:
            self.owner.telemetry.emit("coinbase.reconnect", provider=self.owner.provider_id)
            if self.carries_books:
                self.owner.on_reconnect()
        await self.request("subscribe", "heartbeats", [], via=conn)
        for channel, products in sorted(self.owner.wanted_channels(self.carries_books).items()):
            await self.request("subscribe", channel, sorted(products), via=conn)

    def on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One frame, in the reader task (hot path: synchronous). Total: whatever the
        bytes, nothing raises; an unusable frame is rejected through ``ctx.reject_frame``."""
        owner = self.owner
        try:
            self._on_frame(data, ts_ingest)
        except Exception as exc:  # a frame handler is total: never restart for a frame
            owner.ctx.reject_frame("handler_error", detail=type(exc).__name__, exc=exc)
            if self.carries_books:
                owner.invalidate_books("a frame could not be handled")

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        try:
            msg = decode_frame(data)
        except SchemaError as exc:
            # Its sequence_num is unknown: the next frame's number shows whether it counted.
            self.owner.ctx.reject_frame("schema", detail=str(exc))
            return
        except RejectedFrameError as exc:
            self.owner.ctx.reject_frame(exc.reason, detail=str(exc))
            return
        if isinstance(msg, CoinbaseOtherMsg):
            if msg.is_error:
                self._fail_pending(map_ws_error(msg.message))
                return
            if msg.sequence_num is not None:
                self._sequence(msg.sequence_num)
            return
        if not self._sequence(msg.sequence_num):
            return
        try:
            self._route(msg, ts_ingest)
        except RejectedFrameError as exc:
            self.owner.ctx.reject_frame(exc.reason, detail=str(exc))
        except SchemaError as exc:
            # A frame we cannot read: never guess. A book frame lost this way is a gap.
            self.owner.ctx.reject_frame("schema", detail=str(exc))
            if isinstance(msg, CoinbaseL2DataMsg) and self.carries_books:
                self.owner.invalidate_books(f"unreadable l2_data frame {msg.sequence_num}")

    def _route(self, msg: Any, ts_ingest: int) -> None:
        owner = self.owner
        if isinstance(msg, CoinbaseL2DataMsg):
            if self.carries_books:
                owner.on_l2(msg, self.seq.epoch, ts_ingest)
        elif isinstance(msg, CoinbaseMarketTradesMsg):
            side_is_maker = owner.settings.trade_side_is_maker
            for trade in parse_trades(
                msg,
                owner.instruments(),
                provider=owner.provider_id,
                ts_ingest=ts_ingest,
                side_is_maker=side_is_maker,
            ):
                owner.ctx.emit(trade)
        elif isinstance(msg, CoinbaseTickerMsg | CoinbaseTickerBatchMsg):
            epoch = self.seq.epoch
            for tick in parse_ticker(
                msg,
                owner.instruments(),
                provider=owner.provider_id,
                ts_ingest=ts_ingest,
                epoch=epoch,
            ):
                owner.ctx.emit(tick)
        elif isinstance(msg, CoinbaseCandlesMsg):
            klines = parse_candles(
                msg,
                owner.instruments(),
                provider=owner.provider_id,
                ts_ingest=ts_ingest,
                epoch=self.seq.epoch,
            )
            for kline in self.candles.feed(klines):
                owner.ctx.emit(kline)
        elif isinstance(msg, CoinbaseSubscriptionsMsg):
            for event in msg.events:
                self.acked = {ch: list(p) for ch, p in event.subscriptions.items()}
            if self._pending is not None:
                self._pending.done.set()

    def _sequence(self, seq: int) -> bool:
        verdict = self.seq.observe(seq)
        if verdict is SeqVerdict.STALE:
            return False
        if verdict is SeqVerdict.GAP:
            self.owner.on_gap(self)
        return True

    def _fail_pending(self, error: VenueError) -> None:
        self.owner.telemetry.emit(
            "coinbase.ws_error", provider=self.owner.provider_id, error=str(error)
        )
        if self._pending is not None:
            self._pending.error = error
            self._pending.done.set()

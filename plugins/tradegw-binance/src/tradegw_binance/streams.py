"""One combined-stream market-data connection with live SUBSCRIBE / UNSUBSCRIBE and acks.

Each :class:`StreamConnection` owns a core ``WsClient`` on ``ws_url`` (the ``/stream`` combined
framing without streams in the URL, so the stream set can change at run time). Control
messages carry integer ids and wait for ``{"result": null, "id": n}``; the client's send
limiter keeps them under the venue's 5 messages/s. After every (re)connect the connection
re-subscribes its whole stream set in chunks; ``on_resubscribed`` then tells the provider
whether it was a reconnect (books must resync) or a planned rollover (they need not).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from tradegw_binance.decoding import decode_stream_frame
from tradegw_binance.schemas import BinanceStreamFrame
from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.errors import ControlError, SchemaError, VenueConnectionError
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket
from tradegw_core.net.ws import WsClient, WsConnection
from tradegw_core.observability.rejects import RejectHandler

__all__ = ["StreamConnection"]

_CHUNK = 100
"""Stream names per SUBSCRIBE message when re-subscribing a whole connection."""

FrameSink = Callable[[str, bytes | str, int], None]
"""``on_data(stream_name, whole_frame, ts_ingest)``: the provider decodes the frame once."""

_PREFIX = '{"stream":"'
_PREFIX_B = _PREFIX.encode()
_AT = len(_PREFIX)


class StreamConnection:
    """A market-data socket and the set of stream names it should carry."""

    def __init__(
        self,
        ws_url: str,
        *,
        name: str,
        on_data: FrameSink,
        routes: Mapping[str, Callable[[bytes | str, int], None]] | None = None,
        on_resubscribed: Callable[[StreamConnection, bool], Awaitable[None]],
        on_reject: RejectHandler,
        capacity: int,
        messages_per_second: float,
        lifetime_s: float | None,
        telemetry: Telemetry | None = None,
        clock: Clock | None = None,
        ack_timeout_s: float = 10.0,
        stale_after_s: float | None = 60.0,
        connect_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.capacity = capacity
        self.streams: set[str] = set()
        """Streams this connection carries (or is subscribing)."""
        self._on_data = on_data
        self._routes: Mapping[str, Callable[[bytes | str, int], None]] = routes or {}
        """Stream name -> its own frame handler (the hot streams); others go to on_data."""
        self._on_reject = on_reject
        self._on_resubscribed = on_resubscribed
        self._ack_timeout_s = ack_timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[anyio.Event, list[BinanceStreamFrame]]] = {}
        self._reconnects_seen = 0
        self._conn: WsConnection | None = None
        self._next_ready = anyio.Event()
        """Set when the next (re)connection has subscribed every stream."""
        self.ws = WsClient(
            ws_url,
            on_frame=self._on_frame,
            on_connect=self._on_connect,
            name=name,
            telemetry=telemetry,
            stale_after_s=stale_after_s,
            max_lifetime_s=lifetime_s,
            rollover_margin_s=60.0 if lifetime_s is None else min(60.0, lifetime_s / 10),
            # Burst 1, then the rate: at most 1 + rate frames in any one-second window.
            send_limiter=AsyncRateLimiter(TokenBucket(1, 1.0 / messages_per_second)),
            clock=clock,
            connect_kwargs=connect_kwargs,
            on_reject=on_reject,
        )

    @property
    def room(self) -> int:
        """How many more streams fit on this connection."""
        return self.capacity - len(self.streams)

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Run the socket until cancelled (started once connected)."""
        await self.ws.run(task_status=task_status)

    async def subscribe(self, names: Iterable[str]) -> None:
        """SUBSCRIBE ``names`` and wait for the ack."""
        names = sorted(set(names) - self.streams)
        if not names:
            return
        self.streams.update(names)
        if self._conn is None or self._conn.done.is_set():
            # Between sockets: the next connection subscribes the whole set, ours included.
            try:
                with anyio.fail_after(self._ack_timeout_s):
                    await self._next_ready.wait()
            except TimeoutError as exc:
                self.streams.difference_update(names)
                raise VenueConnectionError(
                    f"binance: not connected; {names[:3]}... not subscribed", venue="binance"
                ) from exc
            return
        try:
            await self._request("SUBSCRIBE", names, self.ws.send, self._conn)
        except BaseException:
            self.streams.difference_update(names)
            raise

    async def unsubscribe(self, names: Iterable[str]) -> None:
        """UNSUBSCRIBE ``names`` (the socket stays open) and wait for the ack."""
        names = sorted(set(names) & self.streams)
        if not names:
            return
        self.streams.difference_update(names)
        if self._conn is None or self._conn.done.is_set():
            return  # between sockets: the next one will not subscribe them
        await self._request("UNSUBSCRIBE", names, self.ws.send, self._conn)

    async def _request(
        self,
        method: str,
        params: list[str],
        send: Callable[[Any], Awaitable[None]],
        conn: WsConnection | None,
    ) -> None:
        req_id = next(self._ids)
        event = anyio.Event()
        slot: list[BinanceStreamFrame] = []
        self._pending[req_id] = (event, slot)
        try:
            await send({"method": method, "params": params, "id": req_id})
            with anyio.fail_after(self._ack_timeout_s):
                await _first_of(event, conn.done if conn is not None else None)
            if not event.is_set():
                raise VenueConnectionError(
                    f"binance: the connection closed before the answer to {method}",
                    venue="binance",
                )
        except TimeoutError as exc:
            raise VenueConnectionError(
                f"binance: no answer to {method} {params[:3]}... within {self._ack_timeout_s} s",
                venue="binance",
            ) from exc
        finally:
            self._pending.pop(req_id, None)
        answer = slot[0]
        if answer.code is not None:
            raise ControlError(f"binance refused {method} {params}: {answer.msg} ({answer.code})")

    async def _on_connect(self, conn: WsConnection) -> None:
        reconnected = self.ws.stats.reconnects != self._reconnects_seen
        self._reconnects_seen = self.ws.stats.reconnects
        self._conn = conn
        done: set[str] = set()
        while todo := sorted(self.streams - done):  # streams added meanwhile go too
            for i in range(0, len(todo), _CHUNK):
                await self._request("SUBSCRIBE", todo[i : i + _CHUNK], conn.send, conn)
            done.update(todo)
        ready, self._next_ready = self._next_ready, anyio.Event()
        ready.set()
        if conn.number > 1:
            await self._on_resubscribed(self, reconnected)

    def _on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        # Fast path: a data frame as Binance writes it, '{"stream":"<name>","data":...}'.
        # The name is sliced out here and the provider decodes the whole frame once.
        if isinstance(data, str):
            if data.startswith(_PREFIX):
                end = data.find('"', _AT)
                if end > _AT:
                    name = data[_AT:end]
                    route = self._routes.get(name)
                    if route is not None:
                        route(data, ts_ingest)
                    else:
                        self._on_stream(name, data, ts_ingest)
                    return
        elif data.startswith(_PREFIX_B):
            end = data.find(b'"', _AT)
            if end > _AT:
                self._on_stream(data[_AT:end].decode("ascii", "replace"), data, ts_ingest)
                return
        self._on_other(data, ts_ingest)

    def _on_stream(self, name: str, data: bytes | str, ts_ingest: int) -> None:
        route = self._routes.get(name)
        if route is not None:
            route(data, ts_ingest)
        elif name == "!serverShutdown":
            self.ws.request_rollover()
        else:
            self._on_data(name, data, ts_ingest)

    def _on_other(self, data: bytes | str, ts_ingest: int) -> None:
        """Control answers, and any frame whose keys come in another order."""
        try:
            frame = decode_stream_frame(data)
        except SchemaError as exc:
            self._on_reject("decode", detail=str(exc))
            return
        except RecursionError:
            self._on_reject("too_deep", detail="nested too deeply to decode")
            return
        if frame.stream:
            self._on_stream(frame.stream, data, ts_ingest)
        elif isinstance(frame.id, int) and (frame.code is not None or bytes(frame.result)):
            waiter = self._pending.get(frame.id)
            if waiter is not None:
                waiter[1].append(frame)
                waiter[0].set()
        elif bytes(frame.data) == b"" and _is_shutdown(data):
            self.ws.request_rollover()
        else:
            self._on_reject("schema", detail="neither a stream frame nor a control answer")


async def _first_of(answered: anyio.Event, closed: anyio.Event | None) -> None:
    """Return when ``answered`` or ``closed`` (the socket ended) is set."""
    if closed is None:
        await answered.wait()
        return
    async with anyio.create_task_group() as tg:

        async def wait_then_stop(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(wait_then_stop, answered)
        tg.start_soon(wait_then_stop, closed)


class _EventName(msgspec.Struct):
    e: str = ""


def _is_shutdown(data: bytes | str) -> bool:
    try:
        return msgspec.json.decode(data, type=_EventName).e == "serverShutdown"
    except (msgspec.DecodeError, RecursionError):
        return False

"""A reconnecting WebSocket client owned by one task (``websockets`` asyncio client).

``WsClient.run`` connects, starts reading, calls the provider's ``on_connect(conn)`` (send
the subscriptions you want on *this* socket: it runs again after every reconnect and on
every rollover, which is how resubscription works), and hands each frame to the
synchronous ``on_frame(data, ts_ingest_ns)`` inside the reader task (hot path: no task
hop). It keeps going until cancelled:

* keepalive: websockets' protocol pings (``ping_interval_s`` / ``ping_timeout_s``), plus an
  optional application ping (``app_ping`` builds the message, every ``app_ping_interval_s``);
* stale feed: a cancel-scope deadline pushed forward by the frames (cheaply: see
  ``_read``); when it passes, the socket is closed, ``StaleFeedError`` recorded and a
  reconnect follows (detected 1 to 1.125 x ``stale_after_s`` after the last frame);
* reconnect with capped exponential backoff and full jitter (reset by the first frame of a
  new socket; a ``Retry-After`` on a 429/418 handshake is honoured); ``max_failures``
  consecutive failures (or one non-retryable error) end ``run`` with that error;
* planned rollover ``rollover_margin_s`` before ``max_lifetime_s`` (or on
  :meth:`WsClient.request_rollover`): the new socket is opened and read and gets
  ``on_connect`` first, then the old one is closed. Frames from both arrive meanwhile:
  downstream dedup by ``event_id`` drops the copies;
* hostile frames never take the reader down: a frame longer than ``max_frame_bytes``
  (characters for text frames) is rejected with reason ``too_large`` before anyone parses
  it (past ``max_size`` websockets closes the socket with 1009, also counted as
  ``too_large``); a ``RecursionError`` from ``on_frame`` (JSON nested deeper than the
  decoder's limit, about 1,000 levels for msgspec) is rejected as ``too_deep``, and any other
  exception that escapes ``on_frame`` as ``handler_error`` (logged with its traceback). Each
  goes to ``on_reject`` (pass ``ctx.reject_frame``: counted per provider and reason, logged
  at a bounded rate) and reading goes on: nothing restarts. A ``VenueError`` raised by
  ``on_frame`` still replaces the socket (the venue asked for it);
* telemetry ``ws.reconnect{provider,reason}``, ``ws.stale{provider}``,
  ``ws.rollover{provider}``, ``ws.connect_failed{provider,error}``; counters in ``stats``.

Errors are translated into :mod:`tradegw_core.errors`. ``send`` goes to the newest socket,
serialised, JSON-encoding mappings and lists. For A/B feeds build two clients with the same
``on_frame`` (each owns its socket; the dispatcher's dedup keeps the first copy).

Usage::

    async def on_connect(conn: WsConnection) -> None:
        await conn.send({"method": "SUBSCRIBE", "params": sorted(wanted), "id": 1})

    ws = WsClient(url, on_frame=parser.feed, on_connect=on_connect, name="binance",
                  telemetry=ctx.telemetry, stale_after_s=30, max_lifetime_s=24 * 3600,
                  on_reject=ctx.reject_frame)
    await task_group.start(ws.run)        # returns once connected and subscribed
    await ws.send({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 2})
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.errors import (
    RateLimitedError,
    StaleFeedError,
    VenueConnectionError,
    VenueError,
)
from tradegw_core.net.backoff import Backoff
from tradegw_core.net.ratelimit import AsyncRateLimiter
from tradegw_core.net.tape import active_tape
from tradegw_core.net.wsconn import (
    ConnectHandler,
    FrameHandler,
    Message,
    WsConnection,
    WsStats,
    encode_message,
    handshake_error,
)
from tradegw_core.observability.rejects import FrameRejects, RejectHandler

__all__ = ["ConnectHandler", "FrameHandler", "Message", "WsClient", "WsConnection", "WsStats"]


class WsClient:
    """A reconnecting, rolling-over WebSocket client; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        on_frame: FrameHandler,
        on_connect: ConnectHandler | None = None,
        name: str = "ws",
        telemetry: Telemetry | None = None,
        clock: Clock | None = None,
        stale_after_s: float | None = 60.0,
        max_lifetime_s: float | None = None,
        rollover_margin_s: float = 60.0,
        backoff: Backoff | None = None,
        max_failures: int | None = None,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        app_ping: Callable[[], Message] | None = None,
        app_ping_interval_s: float = 30.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 5.0,
        max_size: int | None = 2**22,
        max_frame_bytes: int = 2**20,
        on_reject: RejectHandler | None = None,
        headers: Mapping[str, str] | None = None,
        send_limiter: AsyncRateLimiter | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.stats = WsStats()
        self._on_frame = on_frame
        self._on_connect = on_connect
        self._telemetry = telemetry
        self._now_ns = clock.monotonic_ns if clock is not None else time.monotonic_ns
        self._stale_after_s = stale_after_s
        self._rollover_after_s = (
            None if max_lifetime_s is None else max(0.0, max_lifetime_s - rollover_margin_s)
        )
        self._backoff = backoff if backoff is not None else Backoff()
        self._max_failures = max_failures
        self._failures = 0
        self._app_ping = app_ping
        self._app_ping_interval_s = app_ping_interval_s
        self._close_timeout_s = close_timeout_s
        self._limiter = send_limiter
        self._max_frame = max_frame_bytes
        self._max_size = max_size
        self._reject: RejectHandler = (
            on_reject if on_reject is not None else FrameRejects(name, now_ns=self._now_ns).reject
        )
        self._connect_kwargs: dict[str, Any] = {
            "open_timeout": open_timeout_s,
            "ping_interval": ping_interval_s,
            "ping_timeout": ping_timeout_s,
            "close_timeout": close_timeout_s,
            "max_size": max_size,
            "additional_headers": dict(headers) if headers else None,
            "proxy": None,
        }
        self._connect_kwargs.update(connect_kwargs or {})
        self._primary: WsConnection | None = None
        self._wake: anyio.Event | None = None  # created in run(): needs the event loop
        self._rollover_requested = False
        self._running = False
        self._count = 0
        self._tg: TaskGroup | None = None
        self._tape = active_tape()  # tradegw record / replay (net/tape.py), else None

    @property
    def connected(self) -> bool:
        """True while a socket is open for :meth:`send`."""
        return self._primary is not None and not self._primary.done.is_set()

    async def send(self, msg: Message) -> None:
        """Send on the newest open socket; ``VenueConnectionError`` when there is none."""
        conn = self._primary
        if conn is None or conn.done.is_set():
            raise VenueConnectionError(f"{self.name}: not connected", venue=self.name)
        await conn.send(msg)

    def request_rollover(self) -> None:
        """Roll over to a new socket now (e.g. the venue announced a disconnect)."""
        self._rollover_requested = True
        if self._wake is not None:
            self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect and keep connected until cancelled; ``started`` after the first on_connect."""
        if self._running:
            raise RuntimeError(f"{self.name}: run() is already running")
        self._running = True
        self._wake = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                current = await self._establish(tg, wait_first=False)
                task_status.started()
                while True:
                    current = await self._supervise(tg, current)
        except BaseExceptionGroup as group:
            # Surface a lone error as itself, not wrapped by the task group.
            leaves = _leaves(group)
            if len(leaves) != 1:
                raise
            raise leaves[0] from leaves[0].__cause__
        finally:
            self._running = False
            self._primary = None

    async def __aenter__(self) -> WsClient:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        try:
            await tg.start(self.run)
        except BaseException:
            tg.cancel_scope.cancel()
            with contextlib.suppress(BaseException):  # it holds the error raised below
                await tg.__aexit__(None, None, None)
            raise
        self._tg = tg
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        assert tg is not None
        tg.cancel_scope.cancel()
        return await tg.__aexit__(exc_type, exc, tb)

    # -- internals -------------------------------------------------------------------

    async def _supervise(self, tg: TaskGroup, current: WsConnection) -> WsConnection:
        """Wait until ``current`` is lost or due for rollover; return its successor."""
        deadline = math.inf
        if self._rollover_after_s is not None:
            deadline = current.opened_at + self._rollover_after_s
        while not current.done.is_set():
            if self._rollover_requested or anyio.current_time() >= deadline:
                self._rollover_requested = False
                self.stats.rollovers += 1
                self._emit("ws.rollover")
                successor = await self._establish(tg, wait_first=False)
                current.retired = True
                await current.close(self._close_timeout_s)
                return successor
            assert self._wake is not None
            with anyio.CancelScope(deadline=deadline):
                await self._wake.wait()
            self._wake = anyio.Event()
        error = current.error
        if error is not None and not isinstance(error, VenueError):
            raise error  # on_frame raised: a bug in the provider, not a venue problem
        reason = "stale" if isinstance(error, StaleFeedError) else "closed"
        self.stats.reconnects += 1
        self._emit("ws.reconnect", reason=reason)
        if isinstance(error, VenueError):
            self.stats.last_error = error
        return await self._establish(tg, wait_first=True)

    async def _establish(self, tg: TaskGroup, *, wait_first: bool) -> WsConnection:
        """Open a socket (retrying with backoff), start its reader, run on_connect."""
        retry_after: float | None = None
        while True:
            if wait_first:
                delay = self._backoff.failure()
                await anyio.sleep(max(delay, retry_after or 0.0))
            wait_first = True
            try:
                conn = await self._open()
            except VenueError as exc:
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
                self._failed(exc)
                continue
            await tg.start(self._serve, conn)
            if self._app_ping is not None:
                tg.start_soon(self._pinger, conn)
            previous, self._primary = self._primary, conn
            try:
                if self._on_connect is not None:
                    await self._on_connect(conn)
            except VenueError as exc:
                self._primary = previous
                conn.retired = True
                await conn.close(self._close_timeout_s)
                self._failed(exc)
                continue
            self.stats.connects += 1
            self._emit("ws.connected")
            return conn

    def _failed(self, exc: VenueError) -> None:
        self.stats.connect_failures += 1
        self.stats.last_error = exc
        self._failures += 1
        self._emit("ws.connect_failed", error=type(exc).__name__)
        if not exc.retryable or (
            self._max_failures is not None and self._failures >= self._max_failures
        ):
            raise exc

    async def _open(self) -> WsConnection:
        what = f"{self.name}: connect {self.url}"
        try:
            if self._tape is None:
                ws = await connect(self.url, **self._connect_kwargs)
            else:
                ping = None if self._app_ping is None else encode_message(self._app_ping())
                key = f"{self.name}#{self._count + 1}"
                ws = await self._tape.connect(key, self.url, connect, self._connect_kwargs, ping)
        except InvalidURI as exc:
            raise VenueConnectionError(f"{what}: {exc}", venue=self.name, retryable=False) from exc
        except InvalidStatus as exc:
            raise handshake_error(what, exc, self.name) from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise VenueConnectionError(f"{what}: {exc!r}", venue=self.name) from exc
        self._count += 1
        return WsConnection(ws, self._count, self._limiter)

    async def _serve(self, conn: WsConnection, *, task_status: TaskStatus[None]) -> None:
        """Reader task of one socket: read until it ends, record why, close it."""
        try:
            task_status.started()
            await self._read(conn)
        except Exception as exc:  # on_frame raised: keep it to re-raise from run()
            conn.error = exc
        finally:
            conn.done.set()
            if self._wake is not None:
                self._wake.set()
            await conn.close(self._close_timeout_s)

    async def _read(self, conn: WsConnection) -> None:
        recv = conn.ws.recv
        on_frame = self._on_frame
        now_ns = self._now_ns
        mono_ns = time.monotonic_ns
        stats = self.stats
        stale = self._stale_after_s
        max_frame = self._max_frame
        reject = self._reject
        # Moving a cancel-scope deadline costs ~3 us (a timer reschedule), too much per
        # frame: move it at most every stale/8, to stale * 9/8 after the latest move. The
        # feed is then declared stale between stale and 1.125 * stale after its last frame.
        slack_ns = int((stale or 0.0) * 1e9) // 8
        budget_s = (stale or 0.0) * 1.125
        refresh_at = mono_ns() + slack_ns
        with anyio.CancelScope() as scope:
            if stale is not None:
                scope.deadline = anyio.current_time() + budget_s
            try:
                data = await recv()
                # The first frame proves the socket works: forget earlier failures.
                conn.got_frame = True
                self._backoff.reset()
                self._failures = 0
                while True:
                    ts = now_ns()
                    if stale is not None:
                        tick = mono_ns()
                        if tick >= refresh_at:
                            refresh_at = tick + slack_ns
                            scope.deadline = anyio.current_time() + budget_s
                    stats.frames += 1
                    if len(data) > max_frame:
                        stats.rejected += 1
                        reject("too_large", detail=f"{len(data)} > max_frame_bytes {max_frame}")
                    else:
                        try:  # zero cost while nothing raises (Python >= 3.11)
                            on_frame(data, ts)
                        except VenueError:
                            raise  # the venue's own words: replace the socket
                        except RecursionError:
                            stats.rejected += 1
                            reject("too_deep", detail=f"{len(data)} chars nested too deep")
                        except Exception as exc:
                            stats.rejected += 1
                            reject("handler_error", detail=f"{exc!r}", exc=exc)
                    data = await recv()
            except ConnectionClosed as exc:
                if exc.sent is not None and exc.sent.code == 1009:  # websockets: over max_size
                    stats.rejected += 1
                    reject("too_large", detail=f"a frame over max_size {self._max_size} closed it")
                if not conn.retired:
                    kind = "closed" if isinstance(exc, ConnectionClosedOK) else "broken"
                    conn.error = VenueConnectionError(
                        f"{self.name}: socket {conn.number} {kind}: {exc}", venue=self.name
                    )
                return
        if scope.cancelled_caught:
            self.stats.stale += 1
            self._emit("ws.stale")
            conn.error = StaleFeedError(
                f"{self.name}: no frame for {stale} s on socket {conn.number}", venue=self.name
            )

    async def _pinger(self, conn: WsConnection) -> None:
        assert self._app_ping is not None
        while True:
            with anyio.move_on_after(self._app_ping_interval_s):
                await conn.done.wait()
            if conn.done.is_set():
                return
            try:
                await conn.send(self._app_ping())
            except VenueError:
                return  # the reader sees the broken socket and reports it

    def _emit(self, name: str, **labels: Any) -> None:
        if self._telemetry is not None:
            self._telemetry.emit(name, provider=self.name, **labels)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out

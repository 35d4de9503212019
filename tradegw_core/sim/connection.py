"""One emulated WebSocket connection: its state, its bounded outbox and its writer.

Frames a venue sends go through a bounded outbox to one writer task, which applies the
fault plan (the connection's own, then the emulator's) frame by frame. Overflow policy of
the outbox: ``disconnect`` (a venue closes a client that cannot keep up, code 1008).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
from anyio.abc import TaskGroup
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tradegw_core.sim.faults import (
    Close,
    Corrupt,
    Delay,
    Drop,
    Duplicate,
    FaultPlan,
    Reorder,
    Stall,
)

__all__ = ["WsConnection"]

log = logging.getLogger(__name__)

Frame = str | bytes


@dataclass(frozen=True)
class _CloseRequest:
    code: int
    reason: str


class WsConnection:
    """A client connected to an emulator's WebSocket server.

    Venue code keeps its per-connection state in ``subscriptions`` and ``state`` (any
    object the venue likes), sends with :meth:`send_nowait` (sync, from market and
    execution callbacks) or :meth:`send`, and schedules per-connection timers with
    :meth:`start_soon` (they end with the connection).
    """

    def __init__(
        self,
        conn_id: int,
        ws: ServerConnection,
        *,
        emulator_faults: FaultPlan,
        corrupt: Callable[[WsConnection, Frame], Frame],
        task_group: TaskGroup,
        opened_ns: int,
        buffer: int = 10_000,
    ) -> None:
        self.id = conn_id
        self.ws = ws
        request = ws.request
        target = request.path if request is not None else "/"
        self.path, _, self.query_string = target.partition("?")
        self.headers: Mapping[str, str] = (
            {k.lower(): v for k, v in request.headers.raw_items()} if request is not None else {}
        )
        self.subscriptions: set[str] = set()
        self.state: Any = None
        self.faults = FaultPlan()
        self.opened_ns = opened_ns
        self.frames_sent = 0
        self.frames_received = 0
        self.closed = anyio.Event()
        self._emulator_faults = emulator_faults
        self._corrupt = corrupt
        self._tg = task_group
        self._out_send, self._out_recv = anyio.create_memory_object_stream[Frame | _CloseRequest](
            buffer
        )
        self._held: Frame | None = None
        self._stalled_until = 0.0

    @property
    def query(self) -> dict[str, str]:
        """Query parameters of the connect URL (the last value wins)."""
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    # ------------------------------------------------------------------ sending
    def send_nowait(self, frame: Frame) -> bool:
        """Queue ``frame``; False (and the connection is closed with 1008) when the outbox is full.

        A closed connection drops the frame and returns False.
        """
        if self.closed.is_set():
            return False
        try:
            self._out_send.send_nowait(frame)
        except anyio.WouldBlock:
            log.warning("emulator connection %s outbox full: disconnecting", self.id)
            self._tg.start_soon(self.abort, 1008, "slow consumer")
            return False
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True

    async def send(self, frame: Frame) -> None:
        """Queue ``frame``, waiting for room in the outbox."""
        if self.closed.is_set():
            return
        try:
            await self._out_send.send(frame)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after every frame queued so far has been written."""
        if self.closed.is_set():
            return
        try:
            await self._out_send.send(_CloseRequest(code, reason))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return

    async def abort(self, code: int = 1011, reason: str = "") -> None:
        """Close now, dropping queued frames."""
        self.closed.set()
        self._out_send.close()
        await self.ws.close(code, reason)

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in this connection's task group (cancelled when it closes)."""
        self._tg.start_soon(fn, *args)

    def _dispose(self) -> None:
        """Mark closed and release the outbox (called by the emulator when the socket ends)."""
        self.closed.set()
        self._out_send.close()
        self._out_recv.close()

    # ------------------------------------------------------------------ writer
    async def _writer(self) -> None:
        """Drain the outbox, applying faults; ends when the connection closes."""
        try:
            async with self._out_recv:
                async for item in self._out_recv:
                    if isinstance(item, _CloseRequest):
                        await self._flush_held()
                        await self.abort(item.code, item.reason)
                        return
                    if not await self._deliver(item):
                        return
        except (ConnectionClosed, anyio.ClosedResourceError):
            pass  # the client went away (the handler disposed of the outbox meanwhile)
        finally:
            self.closed.set()

    async def _deliver(self, frame: Frame) -> bool:
        """Write one frame through the fault plan; False when the socket was closed."""
        if self._stalled_until > anyio.current_time():
            return True
        action = self.faults.ws_action(self, frame) or self._emulator_faults.ws_action(self, frame)
        if action is None:
            await self._write(frame)
        elif isinstance(action, Drop):
            pass
        elif isinstance(action, Duplicate):
            for _ in range(1 + action.times):
                await self._write(frame)
        elif isinstance(action, Reorder):
            await self._flush_held()
            self._held = frame
            return True
        elif isinstance(action, Delay):
            await anyio.sleep(action.seconds)
            await self._write(frame)
        elif isinstance(action, Corrupt):
            await self._write(action.fn(frame) if action.fn else self._corrupt(self, frame))
        elif isinstance(action, Close):
            await self.abort(action.code, action.reason)
            return False
        elif isinstance(action, Stall):
            seconds = math.inf if action.seconds is None else action.seconds
            self._stalled_until = anyio.current_time() + seconds
            return True
        await self._flush_held()
        return True

    async def _flush_held(self) -> None:
        if self._held is not None:
            frame, self._held = self._held, None
            await self._write(frame)

    async def _write(self, frame: Frame) -> None:
        await self.ws.send(frame)
        self.frames_sent += 1

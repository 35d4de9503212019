"""One WebSocket connection as a provider sees it, and the types ``WsClient`` takes.

``WsConnection`` wraps one open ``websockets`` socket: ``send`` serialises messages and
JSON-encodes mappings and lists; ``on_connect`` receives it to (re)subscribe on that very
socket. Frames are delivered by :class:`tradegw_core.net.ws.WsClient`, not read here.

Usage::

    async def on_connect(conn: WsConnection) -> None:
        await conn.send({"method": "subscribe", "params": {"channel": "book"}})
        print("subscribed on socket", conn.number)

    client = WsClient(url, on_frame=handle, on_connect=on_connect)
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tradegw_core.errors import (
    AuthenticationError,
    RateLimitedError,
    VenueBannedError,
    VenueConnectionError,
    VenueError,
)
from tradegw_core.net.http import parse_retry_after
from tradegw_core.net.ratelimit import AsyncRateLimiter

__all__ = [
    "ConnectHandler",
    "FrameHandler",
    "Message",
    "WsConnection",
    "WsStats",
    "encode_message",
    "handshake_error",
]

FrameHandler = Callable[[bytes | str, int], None]
"""``on_frame(data, ts_ingest_ns)``: synchronous, called in the reader task for each frame."""

Message = str | bytes | Mapping[str, Any] | Sequence[Any]
"""What ``send`` accepts: text, binary, or a mapping/list sent as JSON text."""


def encode_message(msg: Message) -> str | bytes:
    """Text and bytes go as they are; anything else is JSON-encoded into a text frame."""
    if isinstance(msg, str | bytes):
        return msg
    return msgspec.json.encode(msg).decode()


@dataclass(slots=True)
class WsStats:
    """Counters of one client (also reported as telemetry)."""

    connects: int = 0
    reconnects: int = 0
    stale: int = 0
    rollovers: int = 0
    connect_failures: int = 0
    frames: int = 0
    rejected: int = 0
    last_error: VenueError | None = None


class WsConnection:
    """One open socket, as ``on_connect`` receives it."""

    def __init__(self, ws: ClientConnection, number: int, limiter: AsyncRateLimiter | None):
        self.ws = ws
        """The underlying websockets connection (escape hatch; prefer :meth:`send`)."""
        self.number = number
        """1 for the first socket of a client, then 2, 3... (reconnects and rollovers)."""
        self.opened_at = anyio.current_time()
        self.done = anyio.Event()
        self.error: BaseException | None = None
        self.retired = False
        self.got_frame = False
        self._lock = anyio.Lock()
        self._limiter = limiter

    async def send(self, msg: Message) -> None:
        """Send one message (serialised with other sends on this socket)."""
        data = encode_message(msg)
        async with self._lock:
            if self._limiter is not None:
                await self._limiter.acquire(1)
            try:
                await self.ws.send(data)
            except ConnectionClosed as exc:
                raise VenueConnectionError(f"send on a closed socket: {exc}") from exc

    async def close(self, timeout_s: float) -> None:
        """Close the socket; never raises, never waits more than ``timeout_s``."""
        with anyio.move_on_after(timeout_s, shield=True), contextlib.suppress(Exception):
            # A peer that breaks the closing handshake must not break our shutdown.
            await self.ws.close()


ConnectHandler = Callable[[WsConnection], Awaitable[None]]
"""``on_connect(conn)``: (re)send subscriptions on a fresh socket; may await acks."""


def handshake_error(what: str, exc: InvalidStatus, venue: str) -> VenueError:
    """Map a refused handshake (HTTP status) to the error tree."""
    status = exc.response.status_code
    retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
    if status == 418:
        return VenueBannedError(f"{what}: HTTP 418", venue=venue, retry_after=retry_after)
    if status == 429:
        return RateLimitedError(f"{what}: HTTP 429", venue=venue, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationError(f"{what}: HTTP {status}", venue=venue)
    return VenueConnectionError(f"{what}: HTTP {status}", venue=venue, retryable=status >= 500)

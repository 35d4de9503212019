"""A loopback venue for the end-to-end tests: a real ``websockets`` server on 127.0.0.1.

It speaks the protocol described in :mod:`.wsfeed`, records every message it receives
(with the number of the socket it came on) and lets the test publish trades and book
diffs, drop a socket, refuse handshakes, hold snapshot answers and wait for any of it
without sleeping (:meth:`LoopbackVenue.wait_for`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["LoopbackVenue", "loopback_venue"]


class _Book:
    """The venue's own book of one symbol: the truth the client's copy must match."""

    def __init__(self) -> None:
        self.seq = 10
        self.bids: dict[Decimal, Decimal] = {Decimal("100"): Decimal("1")}
        self.asks: dict[Decimal, Decimal] = {Decimal("101"): Decimal("1")}

    def snapshot(self, sym: str) -> dict[str, Any]:
        return {
            "ch": "book",
            "sym": sym,
            "type": "snapshot",
            "seq": self.seq,
            "bids": [[str(p), str(q)] for p, q in sorted(self.bids.items(), reverse=True)],
            "asks": [[str(p), str(q)] for p, q in sorted(self.asks.items())],
        }

    def diff(self, sym: str, side: str, price: str, qty: str, *, skip: int = 0) -> dict[str, Any]:
        """Change one level; ``skip`` seqs are consumed silently first (a lost diff)."""
        levels = self.bids if side == "bid" else self.asks
        self.seq += skip + 1
        if Decimal(qty) == 0:
            levels.pop(Decimal(price), None)
        else:
            levels[Decimal(price)] = Decimal(qty)
        entry = [[price, qty]]
        return {
            "ch": "book",
            "sym": sym,
            "type": "diff",
            "first": self.seq,
            "last": self.seq,
            "bids": entry if side == "bid" else [],
            "asks": entry if side == "ask" else [],
        }


class LoopbackVenue:
    """The venue's state; the websockets server calls :meth:`handler` per socket."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[tuple[int, dict[str, Any]]] = []
        """Every message, as ``(socket number, decoded JSON)``, in arrival order."""
        self.sockets: dict[int, ServerConnection] = {}
        self.subscriptions: dict[int, set[str]] = {}
        self.close_codes: dict[int, int | None] = {}
        self.refused = 0
        self.refuse_handshakes = 0
        """Refuse this many coming handshakes with HTTP 503."""
        self.hold_snapshots = False
        """Keep snapshot answers (taken when asked) until :meth:`release_snapshots`."""
        self.books: dict[str, _Book] = {}
        self._held: list[tuple[ServerConnection, dict[str, Any]]] = []
        self._trade_seq = 1000
        self._count = 0
        self._changed = anyio.Event()

    # -- waiting ---------------------------------------------------------------------

    def _poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, cond: Callable[[LoopbackVenue], bool]) -> None:
        """Wait until ``cond(self)`` holds (bound it with ``anyio.fail_after``)."""
        while not cond(self):
            await self._changed.wait()

    def ops(self, op: str, socket: int | None = None) -> list[list[str]]:
        """The channel lists of every ``op`` message (on ``socket``, when given)."""
        return [
            m["channels"]
            for n, m in self.received
            if m.get("op") == op and (socket is None or n == socket)
        ]

    @property
    def latest(self) -> int:
        """The number of the newest socket."""
        return self._count

    def book(self, sym: str) -> _Book:
        """The venue's book of ``sym`` (created on first use)."""
        return self.books.setdefault(sym, _Book())

    # -- publishing ------------------------------------------------------------------

    async def _publish(self, channel: str, frame: dict[str, Any], *, force: bool) -> int:
        sent = 0
        for n, ws in list(self.sockets.items()):
            if force or channel in self.subscriptions[n]:
                try:
                    await ws.send(json.dumps(frame))
                    sent += 1
                except ConnectionClosed:
                    pass
        return sent

    async def trade(self, sym: str, *, force: bool = False) -> int:
        """Publish one trade of ``sym`` to its subscribers (to every socket with ``force``);
        returns its seq."""
        self._trade_seq += 1
        seq = self._trade_seq
        frame = {"ch": "trade", "sym": sym, "seq": seq, "px": "100.5", "qty": "0.25"}
        frame["side"] = "buy"
        await self._publish(f"trade:{sym}", frame, force=force)
        return seq

    async def diff(self, sym: str, side: str, price: str, qty: str, *, skip: int = 0) -> int:
        """Change one level of ``sym``'s book and publish the diff; returns its seq."""
        frame = self.book(sym).diff(sym, side, price, qty, skip=skip)
        await self._publish(f"book:{sym}", frame, force=False)
        return int(frame["last"])

    async def release_snapshots(self) -> None:
        """Send the held snapshot answers."""
        held, self._held = self._held, []
        for ws, frame in held:
            await ws.send(json.dumps(frame))

    async def send_raw(self, socket: int, data: str) -> None:
        """Send ``data`` as it is on ``socket`` (e.g. a frame the client cannot parse)."""
        await self.sockets[socket].send(data)

    def drop(self, socket: int) -> None:
        """Cut ``socket`` without a closing handshake (a network failure)."""
        transport = self.sockets[socket].transport
        transport.abort()

    # -- server side -----------------------------------------------------------------

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake while ``refuse_handshakes`` says so."""
        if self.refuse_handshakes > 0:
            self.refuse_handshakes -= 1
            self.refused += 1
            self._poke()
            return conn.respond(503, "maintenance\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        """Serve one socket until it closes."""
        self._count += 1
        n = self._count
        self.sockets[n] = ws
        self.subscriptions[n] = set()
        self._poke()
        try:
            async for raw in ws:
                await self._handle(n, ws, json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            del self.sockets[n]
            self.close_codes[n] = ws.close_code
            self._poke()

    async def _handle(self, n: int, ws: ServerConnection, msg: dict[str, Any]) -> None:
        self.received.append((n, msg))
        op = msg.get("op")
        if op == "subscribe":
            self.subscriptions[n].update(msg["channels"])
            await ws.send(json.dumps({"op": "ack", "id": msg["id"]}))
            for channel in msg["channels"]:
                if channel.startswith("book:"):
                    # Books stream diffs at once: the client must buffer until it synced.
                    sym = channel.split(":", 1)[1]
                    await ws.send(json.dumps(self.book(sym).diff(sym, "bid", "99", "2")))
        elif op == "unsubscribe":
            self.subscriptions[n].difference_update(msg["channels"])
            await ws.send(json.dumps({"op": "ack", "id": msg["id"]}))
        elif op == "snapshot":
            sym = msg["channel"].split(":", 1)[1]
            frame = self.book(sym).snapshot(sym)
            if self.hold_snapshots:
                self._held.append((ws, frame))
            else:
                await ws.send(json.dumps(frame))
        self._poke()


@asynccontextmanager
async def loopback_venue() -> AsyncIterator[LoopbackVenue]:
    """Run a :class:`LoopbackVenue` on an ephemeral loopback port for the block."""
    venue = LoopbackVenue()
    async with serve(
        venue.handler, "127.0.0.1", 0, process_request=venue.process_request
    ) as server:
        port = server.sockets[0].getsockname()[1]
        venue.url = f"ws://127.0.0.1:{port}"
        yield venue

"""Request/ack bookkeeping for Kraken WebSocket v2 methods (sans-I/O apart from events).

Kraken answers a ``subscribe`` for N symbols with N acks sharing the request's ``req_id``
(a failure may name its ``symbol`` or not). :class:`PendingRequests` tracks each request
until every symbol is answered; the number of requests in flight is bounded (overflow
policy: refuse the new request with ``ControlError``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import anyio

from tradegw_core.errors import ControlError
from tradegw_kraken.schemas import KrakenFrameMsg

__all__ = ["PendingRequest", "PendingRequests"]


class PendingRequest:
    """One request waiting for its acks."""

    def __init__(self, req_id: int, symbols: Iterable[str]) -> None:
        self.req_id = req_id
        self.waiting = set(symbols)
        self.errors: dict[str, str] = {}
        self.done = anyio.Event()
        if not self.waiting:
            self.done.set()

    def answer(self, frame: KrakenFrameMsg, symbol: str | None) -> None:
        """Record one ack (``symbol`` from ``result.symbol`` or the failure's ``symbol``)."""
        if frame.success:
            if symbol is not None:
                self.waiting.discard(symbol)
            else:
                self.waiting.clear()
        else:
            text = frame.error or "refused without a reason"
            targets = [symbol] if symbol in self.waiting else sorted(self.waiting)
            for sym in targets:
                self.errors[sym] = text
                self.waiting.discard(sym)
        if not self.waiting:
            self.done.set()


class PendingRequests:
    """Allocates ``req_id``s and routes method answers to their :class:`PendingRequest`."""

    def __init__(self, limit: int = 256) -> None:
        self._ids = itertools.count(1)
        self._pending: dict[int, PendingRequest] = {}
        self._limit = limit

    def open(self, symbols: Iterable[str]) -> PendingRequest:
        """A new request with a fresh ``req_id``."""
        if len(self._pending) >= self._limit:
            raise ControlError(
                f"{len(self._pending)} Kraken requests are waiting for acks already; try later"
            )
        req = PendingRequest(next(self._ids), symbols)
        self._pending[req.req_id] = req
        return req

    def close(self, req: PendingRequest) -> None:
        """Forget a request (answered or timed out)."""
        self._pending.pop(req.req_id, None)

    def on_answer(self, frame: KrakenFrameMsg, symbol: str | None) -> bool:
        """Route an answer frame; False when no request waits for its ``req_id``."""
        req = self._pending.get(frame.req_id) if frame.req_id is not None else None
        if req is None:
            return False
        req.answer(frame, symbol)
        return True

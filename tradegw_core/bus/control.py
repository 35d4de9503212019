"""The in-process control bus: requests in, one :class:`Ack` back for each.

Clients (consumer contexts, the HTTP control API) call :meth:`ControlBus.request` with a
control message, or raw JSON / a mapping from outside, which is validated first: malformed
input gets an error Ack and never reaches the server. The gateway's control task runs
:meth:`ControlBus.serve`, handling one request at a time, in arrival order.

The request stream is a bounded anyio memory object stream (``size``): a client awaits room
(backpressure), bounded by ``timeout`` like the wait for the answer. A request that is not
answered in time gets an error Ack saying so, and an error Ack always means nothing
changed: a request whose client gave up before the server reached it is skipped, and the
handler gets the request's deadline (:func:`anyio.current_time` seconds) so that it can
bound its own work by it and undo what it did when it runs out of time.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import TypeAdapter, ValidationError

from tradegw_core.schema.control import (
    Ack,
    AnyControlMessage,
    ControlMessage,
)

__all__ = ["AnyControl", "ControlBus", "ControlHandler", "parse_control_input"]

AnyControl = AnyControlMessage
ControlHandler = Callable[[AnyControl, float], Awaitable[Ack]]
"""``handler(msg, deadline)``: the Ack for ``msg``; after ``deadline`` (anyio clock) the client
no longer waits, so a handler still busy then must undo its changes and answer an error."""

_log = logging.getLogger("tradegw.control")

_adapter: TypeAdapter[AnyControl] = TypeAdapter(ControlMessage)


def _request_id_of(raw: object) -> str:
    if isinstance(raw, Mapping):
        value = raw.get("request_id", "")
        return value if isinstance(value, str) else ""
    if isinstance(raw, str | bytes):
        try:
            return _request_id_of(json.loads(raw))
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            return ""
    return ""


def parse_control_input(raw: object, *, strict: bool = False) -> AnyControl | Ack:
    """A validated control message, or an error Ack saying what is wrong with ``raw``.

    ``strict`` (what the HTTP API uses) refuses every coercion: ``"false"`` or ``0`` is not
    a boolean, ``5`` not a string. A mapping is then checked as the JSON it stands for.
    """
    if isinstance(raw, AnyControl):
        return raw
    try:
        if strict and isinstance(raw, Mapping):
            raw = json.dumps(raw, default=str)
        if isinstance(raw, str | bytes):
            return _adapter.validate_json(raw, strict=strict or None)
        if isinstance(raw, Mapping):
            return _adapter.validate_python(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
            for err in exc.errors()
        )
        return Ack(
            request_id=_request_id_of(raw),
            ok=False,
            error=f"malformed control message: {problems}",
        )
    return Ack(
        request_id="",
        ok=False,
        error=f"malformed control message: expected JSON or a mapping, got {type(raw).__name__}",
    )


class _Pending:
    __slots__ = ("abandoned", "ack", "deadline", "done", "msg")

    def __init__(self, msg: AnyControl, deadline: float) -> None:
        self.msg = msg
        self.deadline = deadline
        self.abandoned = False
        self.ack: Ack | None = None
        self.done = anyio.Event()


class ControlBus:
    """Bounded request/ack channel between control clients and the gateway."""

    def __init__(self, *, size: int = 256, timeout: float = 5.0) -> None:
        if size < 1 or not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("control bus size must be >= 1 and timeout a positive number")
        self.timeout = timeout
        self._size = size
        # Created on first use, so a bus that never ran leaves no unclosed stream behind.
        self._send: MemoryObjectSendStream[_Pending] | None = None
        self._recv: MemoryObjectReceiveStream[_Pending] | None = None
        self._closed = False

    def _streams(
        self,
    ) -> tuple[MemoryObjectSendStream[_Pending], MemoryObjectReceiveStream[_Pending]]:
        if self._send is None or self._recv is None:
            self._send, self._recv = anyio.create_memory_object_stream[_Pending](self._size)
            if self._closed:
                self._send.close()
                self._recv.close()
        return self._send, self._recv

    async def request(self, msg: AnyControl | Mapping[str, Any] | str | bytes) -> Ack:
        """Send one control message and wait for its Ack (error Acks for bad input/timeout)."""
        parsed = parse_control_input(msg)
        if isinstance(parsed, Ack):
            return parsed
        pending = _Pending(parsed, anyio.current_time() + self.timeout)
        with anyio.CancelScope(deadline=pending.deadline):
            try:
                await self._streams()[0].send(pending)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return self._error(parsed, "the gateway is not running")
            await pending.done.wait()
        if pending.ack is None:
            pending.abandoned = True  # the server skips it if it has not started it yet
            return self._error(parsed, f"no answer within {self.timeout:g} s")
        return pending.ack

    async def serve(
        self, handler: ControlHandler, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Answer requests with ``handler`` until cancelled or closed (the control task).

        A handler that raises answers with an error Ack; the server keeps serving. A request
        whose client has given up (or whose deadline has passed) before its turn is skipped:
        the client already holds an error Ack, so nothing may change. When the server stops,
        the bus closes: later requests get an error Ack at once.
        """
        receive = self._streams()[1]
        task_status.started()
        try:
            async for pending in receive:
                await self._answer(handler, pending)
                # Answer whatever else is queued now, without one event-loop turn per
                # request: under load (1,000 HTTP clients at once) each turn is long.
                while True:
                    try:
                        pending = receive.receive_nowait()
                    except anyio.WouldBlock:
                        break
                    await self._answer(handler, pending)
        finally:
            self.close()

    async def _answer(self, handler: ControlHandler, pending: _Pending) -> None:
        if pending.abandoned or anyio.current_time() >= pending.deadline:
            pending.abandoned = True
            _log.info(
                "control request %r skipped: its client gave up waiting", pending.msg.request_id
            )
            pending.done.set()
            return
        try:
            pending.ack = await handler(pending.msg, pending.deadline)
        except Exception as exc:
            pending.ack = self._error(pending.msg, f"{type(exc).__name__}: {exc}")
        pending.done.set()

    def close(self) -> None:
        """Refuse new requests (they get an error Ack)."""
        self._closed = True
        if self._send is not None and self._recv is not None:
            self._send.close()
            self._recv.close()

    @staticmethod
    def _error(msg: AnyControl, text: str) -> Ack:
        return Ack(request_id=msg.request_id, ok=False, error=text)

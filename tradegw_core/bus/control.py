"""The in-process control bus: requests in, one :class:`Ack` back for each.

Clients (consumer contexts, the HTTP control API) call :meth:`ControlBus.request` with a
control message, or raw JSON / a mapping from outside, which is validated first: malformed
input gets an error Ack and never reaches the server. The gateway's control task runs
:meth:`ControlBus.serve`, handling one request at a time, in arrival order.

The request stream is a bounded anyio memory object stream (``size``): a client awaits room
(backpressure), bounded by ``timeout`` like the wait for the answer. A request that is not
answered in time gets an error Ack saying so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import TypeAdapter, ValidationError

from tradegw_core.schema.control import (
    Ack,
    ControlMessage,
    MergedSubscribe,
    SetTradingMode,
    Subscribe,
    Unsubscribe,
)

__all__ = ["AnyControl", "ControlBus", "ControlHandler", "parse_control_input"]

AnyControl = Subscribe | Unsubscribe | MergedSubscribe | SetTradingMode
ControlHandler = Callable[[AnyControl], Awaitable[Ack]]

_adapter: TypeAdapter[AnyControl] = TypeAdapter(ControlMessage)


def _request_id_of(raw: object) -> str:
    if isinstance(raw, Mapping):
        value = raw.get("request_id", "")
        return value if isinstance(value, str) else ""
    if isinstance(raw, str | bytes):
        try:
            return _request_id_of(json.loads(raw))
        except ValueError:
            return ""
    return ""


def parse_control_input(raw: object) -> AnyControl | Ack:
    """A validated control message, or an error Ack saying what is wrong with ``raw``."""
    if isinstance(raw, Subscribe | Unsubscribe | MergedSubscribe | SetTradingMode):
        return raw
    try:
        if isinstance(raw, str | bytes):
            return _adapter.validate_json(raw)
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
    __slots__ = ("ack", "done", "msg")

    def __init__(self, msg: AnyControl) -> None:
        self.msg = msg
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
        pending = _Pending(parsed)
        with anyio.move_on_after(self.timeout):
            try:
                await self._streams()[0].send(pending)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return self._error(parsed, "the gateway is not running")
            await pending.done.wait()
        if pending.ack is None:
            return self._error(parsed, f"no answer within {self.timeout:g} s")
        return pending.ack

    async def serve(
        self, handler: ControlHandler, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Answer requests with ``handler`` until cancelled or closed (the control task).

        A handler that raises answers with an error Ack; the server keeps serving. When the
        server stops, the bus closes: later requests get an error Ack at once.
        """
        receive = self._streams()[1]
        task_status.started()
        try:
            async for pending in receive:
                try:
                    pending.ack = await handler(pending.msg)
                except Exception as exc:
                    pending.ack = self._error(pending.msg, f"{type(exc).__name__}: {exc}")
                pending.done.set()
        finally:
            self.close()

    def close(self) -> None:
        """Refuse new requests (they get an error Ack)."""
        self._closed = True
        if self._send is not None and self._recv is not None:
            self._send.close()
            self._recv.close()

    @staticmethod
    def _error(msg: AnyControl, text: str) -> Ack:
        return Ack(request_id=msg.request_id, ok=False, error=text)

"""The ops-only telemetry bus: ``book.resync``, ``order.duplicate``, ``late_event.dropped``...

Producers call :meth:`TelemetryBus.emit` (synchronous, never blocks, never raises). The
bus keeps a bounded ring of recent events, counts every name in
``tradegw_telemetry_events_total{name}``, and fans events out to ops subscribers (the
HTTP API, the demo view, tests) through bounded streams whose overflow policy is
*drop oldest*, counted per subscriber in ``tradegw_telemetry_dropped_total{subscriber}``.

Consumers never get access: ``ConsumerContext`` has no telemetry, and only the gateway,
which owns this object, hands it to providers (to emit) and ops code (to subscribe).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.errors import TradegwError
from tradegw_core.observability.metrics import Metrics
from tradegw_core.observability.ops_log import OpsLog
from tradegw_core.observability.ops_metrics import TelemetryMetrics

__all__ = ["TelemetryBus", "TelemetryEvent", "TelemetrySubscription"]

EVENTS_METRIC = "tradegw_telemetry_events_total"
DROPPED_METRIC = "tradegw_telemetry_dropped_total"
_OTHER_NAME = "_other_"


class TelemetryEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One ops event: its name, string labels, wall-clock time and bus sequence number."""

    name: str
    labels: dict[str, str]
    ts_ns: int
    seq: int


class TelemetrySubscription:
    """An ops subscriber's bounded stream of events (drop oldest when it lags).

    Use as an async context manager and iterate it; ``dropped`` counts evicted events.
    """

    def __init__(self, bus: TelemetryBus, subscriber: str, buffer: int) -> None:
        self._bus = bus
        self.subscriber = subscriber
        send, receive = anyio.create_memory_object_stream[TelemetryEvent](buffer)
        self._send: MemoryObjectSendStream[TelemetryEvent] = send
        self._receive: MemoryObjectReceiveStream[TelemetryEvent] = receive
        self._evict = receive.clone()
        self.dropped = 0

    def _offer(self, event: TelemetryEvent) -> bool:
        """Queue ``event``; True when the oldest queued event had to be dropped for it."""
        try:
            self._send.send_nowait(event)
            return False
        except anyio.WouldBlock:
            self._evict.receive_nowait()
            self.dropped += 1
            self._send.send_nowait(event)
            return True

    def receive_nowait(self) -> TelemetryEvent | None:
        """The next queued event, or None when none is queued."""
        try:
            return self._receive.receive_nowait()
        except (anyio.WouldBlock, anyio.EndOfStream):
            return None

    def close(self) -> None:
        """Stop receiving; the bus forgets this subscriber."""
        self._bus._unsubscribe(self)
        self._send.close()
        self._evict.close()
        self._receive.close()

    async def __aenter__(self) -> TelemetrySubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> TelemetrySubscription:
        return self

    async def __anext__(self) -> TelemetryEvent:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None


class TelemetryBus:
    """The gateway's telemetry bus (one per gateway; implements ``contracts.Telemetry``)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        ring_size: int = 1024,
        max_names: int = 256,
        max_subscribers: int = 16,
    ) -> None:
        if ring_size < 1 or max_names < 1 or max_subscribers < 1:
            raise ValueError("ring_size, max_names and max_subscribers must be >= 1")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._metrics = metrics
        self._series = TelemetryMetrics(metrics) if metrics is not None else None
        self._ops_log = OpsLog(self._clock.monotonic_ns)
        self._ring: deque[TelemetryEvent] = deque(maxlen=ring_size)
        self._counts: dict[str, int] = {}
        self._max_names = max_names
        self._max_subscribers = max_subscribers
        self._subscribers: list[TelemetrySubscription] = []
        self._seq = 0

    def emit(self, name: str, /, **labels: Any) -> None:
        """Record ops event ``name`` with ``labels`` (stringified); never blocks."""
        self._seq += 1
        event = TelemetryEvent(
            name=name,
            labels={k: str(v) for k, v in labels.items()},
            ts_ns=self._clock.time_ns(),
            seq=self._seq,
        )
        self._ring.append(event)
        key = name if name in self._counts or len(self._counts) < self._max_names else _OTHER_NAME
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._metrics is not None:
            self._metrics.inc(EVENTS_METRIC, name=key)
        if self._series is not None:
            self._series.on_event(name, event.labels)
        self._ops_log.on_event(name, event.labels)
        for sub in list(self._subscribers):
            try:
                dropped = sub._offer(event)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                sub.close()
                continue
            if dropped and self._metrics is not None:
                self._metrics.inc(DROPPED_METRIC, subscriber=sub.subscriber)

    def count(self, name: str) -> int:
        """How many ``name`` events were emitted since start."""
        return self._counts.get(name, 0)

    def counts(self) -> dict[str, int]:
        """Emitted events per name."""
        return dict(self._counts)

    def recent(self, limit: int | None = None, *, name: str | None = None) -> list[TelemetryEvent]:
        """The newest events kept in the ring, oldest first (optionally one name only)."""
        events = [e for e in self._ring if name is None or e.name == name]
        return events if limit is None else events[-limit:] if limit > 0 else []

    def __iter__(self) -> Iterator[TelemetryEvent]:
        return iter(list(self._ring))

    def subscribe(self, subscriber: str, *, buffer: int = 256) -> TelemetrySubscription:
        """An ops subscription named ``subscriber`` (for metrics), bounded to ``buffer``."""
        if buffer < 1:
            raise ValueError("a telemetry subscription needs a buffer of at least 1")
        if len(self._subscribers) >= self._max_subscribers:
            raise TradegwError(
                f"telemetry bus: {self._max_subscribers} subscribers already; "
                f"{subscriber!r} refused (close an unused subscription)"
            )
        sub = TelemetrySubscription(self, subscriber, buffer)
        self._subscribers.append(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """Open ops subscriptions."""
        return len(self._subscribers)

    def _unsubscribe(self, sub: TelemetrySubscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def close(self) -> None:
        """Close every subscription (their iterators end)."""
        for sub in list(self._subscribers):
            sub.close()

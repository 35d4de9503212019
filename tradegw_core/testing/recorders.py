"""Recorders for tests: collect what the code under test hands out, wait on it without sleeps.

- :class:`TelemetryRecorder`: a telemetry stand-in (``emit(name, **labels)``).
- :class:`EventRecorder`: an event sink (``recorder(event)``) that also records telemetry,
  so one object can stand in for a provider context's ``emit`` and ``telemetry``.
- :class:`RecordingConsumer`: a consumer that (optionally) subscribes on start and records
  every event and exec report it receives.

Every recorder has ``await recorder.until(predicate)``: a bounded wait
(``anyio.fail_after``) woken by each new record, so a test never polls or sleeps::

    await consumer.until(lambda: any(isinstance(e, Trade) for e in consumer.events))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio

from tradegw_core.schema.events import Event, EventType, ExecReport

__all__ = ["EventRecorder", "RecordingConsumer", "TelemetryRecorder", "Waitable"]

T = TypeVar("T")

DEFAULT_WAIT_S = 10.0
"""How long ``until`` waits by default before failing the test."""


class Waitable:
    """Base of the recorders: ``poke()`` on every change, ``until(pred)`` waits for one."""

    def __init__(self) -> None:
        self._changed: anyio.Event | None = None

    def poke(self) -> None:
        """Wake the waiters: something they may be waiting for has changed."""
        if self._changed is not None:
            self._changed.set()

    async def until(self, predicate: Callable[[], bool], within_s: float = DEFAULT_WAIT_S) -> None:
        """Return once ``predicate()`` holds; raise ``TimeoutError`` after ``within_s``.

        The predicate is re-checked after each ``poke()`` (each new record), never polled.
        """
        with anyio.fail_after(within_s):
            while True:
                self._changed = anyio.Event()
                if predicate():
                    return
                await self._changed.wait()


def _labels_named(records: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [labels for n, labels in records if n == name]


class TelemetryRecorder(Waitable):
    """Collects ``emit(name, **labels)`` calls as ``(name, labels)`` tuples."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, /, **labels: Any) -> None:
        """Record one telemetry event."""
        self.events.append((name, labels))
        self.poke()

    def named(self, name: str) -> list[dict[str, Any]]:
        """Labels of every event called ``name``, in emission order."""
        return _labels_named(self.events, name)


class EventRecorder(Waitable):
    """An event sink that also records telemetry.

    ``recorder(item)`` records an item (an event, an exec report...);
    ``recorder.emit(item)`` does the same, and ``recorder.emit("name", **labels)`` records a
    telemetry event instead, so the recorder can be both a context's ``emit`` and its
    ``telemetry``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Any] = []
        self.telemetry: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, item: Any) -> None:
        """Record one item."""
        self.items.append(item)
        self.poke()

    def emit(self, item: Any, /, **labels: Any) -> None:
        """Record a telemetry event when ``item`` is its name (a ``str``), else an item."""
        if isinstance(item, str):
            self.telemetry.append((item, labels))
            self.poke()
        else:
            self(item)

    def of(self, kind: type[T], symbol: str | None = None) -> list[T]:
        """The recorded items of type ``kind`` (and of ``symbol`` when given)."""
        return [
            i
            for i in self.items
            if isinstance(i, kind) and (symbol is None or getattr(i, "symbol", None) == symbol)
        ]

    def named(self, name: str) -> list[dict[str, Any]]:
        """Labels of every telemetry event called ``name``, in emission order."""
        return _labels_named(self.telemetry, name)


class RecordingConsumer(Waitable):
    """A consumer that records every event and exec report it is given.

    When ``providers`` is given, it subscribes on start to ``providers`` x ``symbols`` x
    ``types`` and keeps the control Ack in ``ack``; ``ctx`` is the consumer context, so the
    test can submit orders as this consumer.
    """

    def __init__(
        self,
        providers: Sequence[str] = (),
        symbols: Sequence[str] = (),
        types: Sequence[EventType] = (),
    ) -> None:
        super().__init__()
        self.subscription = (tuple(providers), tuple(symbols), tuple(types))
        self.ctx: Any = None
        self.ack: Any = None
        self.events: list[Event] = []
        self.reports: list[ExecReport] = []
        self.stopped = False

    async def on_start(self, ctx: Any) -> None:
        """Keep the context; subscribe when a subscription was given."""
        self.ctx = ctx
        providers, symbols, types = self.subscription
        if providers:
            self.ack = await ctx.subscribe(providers, symbols, types)
        self.poke()

    async def on_event(self, event: Event) -> None:
        """Record one market-data event."""
        self.events.append(event)
        self.poke()

    async def on_exec_report(self, report: ExecReport) -> None:
        """Record one exec report."""
        self.reports.append(report)
        self.poke()

    async def on_stop(self) -> None:
        """Remember the stop."""
        self.stopped = True
        self.poke()

    def of(self, kind: type[T]) -> list[T]:
        """The received events of type ``kind``."""
        return [e for e in self.events if isinstance(e, kind)]

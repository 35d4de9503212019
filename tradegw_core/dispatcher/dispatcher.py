"""The dispatcher: dedup -> per-stream ordering -> routing -> per-consumer lanes.

:meth:`Dispatcher.dispatch` runs synchronously inside the provider's reader task (design
section 2) and never awaits: it enqueues with :meth:`Lane.put_nowait`. The gateway calls
:meth:`Dispatcher.flush` on its 50 ms tick to release held events whose lateness tolerance
expired. Execution reports take their own lossless path to the owning consumer's lane.

Fair share (design section 9): every routed event goes to each consumer's lane through that
consumer's :class:`~tradegw_core.bus.gate.StreamGate` for the stream (token bucket,
latest-wins coalescing, bounded backlog; see :mod:`tradegw_core.bus.gate`). The flush tick
releases what gates hold, serving the lanes round-robin. A consumer that joins a book stream
others already receive gets a BookSnapshot of the provider's assembled book (``books``, set
by the gateway) before its first update; only that consumer is resynced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from tradegw_core.bus.data import DeadLetterQueue, Lane, OverflowPolicy
from tradegw_core.bus.gate import StreamGate
from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.dispatcher.dedup import DedupWindow
from tradegw_core.dispatcher.ordering import GapReport, OrderingBuffer, OrderingMode, StreamState
from tradegw_core.dispatcher.routing import RouteChange, RoutingTable
from tradegw_core.errors import ControlError
from tradegw_core.schema.events import BookSnapshot, Event, EventType, ExecReport, StreamKey

__all__ = ["AssembledBook", "Budget", "Dispatcher", "DispatcherStats"]

_Route = tuple[tuple[Lane, StreamGate], ...]


class AssembledBook(Protocol):
    """Where a consumer's resync snapshot comes from (the providers' book stages)."""

    def serves(self, provider: str, symbol: str) -> bool:
        """True when ``provider`` assembles ``symbol``'s book (it has a book stage)."""
        ...

    def __call__(self, provider: str, symbol: str, seq: int | None) -> BookSnapshot | None:
        """A BookSnapshot of the assembled book now, with ``seq`` (the last update
        delivered) as its seq; None while that book is not live."""
        ...


class Budget:
    """The token budget of one consumer's streams: ``rate`` events/s (0: unlimited), ``burst``."""

    __slots__ = ("burst", "rate")

    def __init__(self, rate: int = 1_000, burst: int = 100) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("a budget needs rate >= 0 (0: unlimited) and burst >= 1")
        self.rate = rate
        self.burst = burst


class _NullTelemetry:
    def emit(self, name: str, /, **labels: object) -> None:
        """Record nothing."""


class DispatcherStats:
    """Counters of the dispatcher itself (lanes and ordering keep their own)."""

    __slots__ = ("duplicates", "exec_unrouted", "received", "unrouted")

    def __init__(self) -> None:
        self.received = 0
        self.duplicates = 0
        self.unrouted = 0
        self.exec_unrouted = 0


class _Slot:
    """What the hot path needs about one routed stream, cached until routes change."""

    __slots__ = ("dedup", "gates", "key", "offers", "snapshot", "stream")

    def __init__(self, key: StreamKey, gates: _Route, stream: StreamState) -> None:
        self.key = key
        # A BookSnapshot is made once per (re)sync by the provider's book stage, never copied
        # by A/B connections; a resync that lands on the same seq must still reach consumers
        # (design s6: a BookSnapshot after every resync), so snapshots skip the dedup window.
        self.snapshot = key.type is EventType.BOOK_SNAPSHOT
        self.dedup = not self.snapshot
        self.gates = gates
        # Bound methods paired with their gates: one lookup less per consumer and event.
        self.offers = tuple((lane.offer, gate) for lane, gate in gates)
        self.stream = stream


class Dispatcher:
    """Dedup, ordering, routing table and consumer lanes of one gateway.

    The hot path finds a stream's lanes and ordering state in one lookup keyed by the
    event's own fields (class, provider, symbol): no StreamKey is built per event. That
    cache is dropped whenever the routing table changes or ordering state is forgotten.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        lane_size: int = 10_000,
        overflow: OverflowPolicy | str = OverflowPolicy.DLQ,
        lateness_ms: float = 150,
        dedup_window: int = 100_000,
        dlq_size: int = 10_000,
        exec_lane_size: int = 10_000,
        max_held: int = 10_000,
        default_mode: OrderingMode = OrderingMode.MONOTONIC,
        budget: Budget | None = None,
        budgets: Mapping[str, Budget] | None = None,
        backlog_size: int = 1_000,
    ) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._telemetry: Telemetry = telemetry if telemetry is not None else _NullTelemetry()
        self.lane_size = lane_size
        self.overflow = OverflowPolicy(overflow)
        self.exec_lane_size = exec_lane_size
        self.dlq = DeadLetterQueue(dlq_size)
        self.dedup = DedupWindow(dedup_window)
        self.ordering = OrderingBuffer(
            self._route,
            lateness_ns=int(lateness_ms * 1_000_000),
            max_held=max_held,
            default_mode=default_mode,
            on_gap=self._report_gap,
            on_drop=self._drop_slots,
        )
        self.routing = RoutingTable()
        self.stats = DispatcherStats()
        self.budget = budget if budget is not None else Budget(rate=0)
        """The token budget of every consumer without one of its own in ``budgets``
        (unlimited unless given: the gateway passes ``[dispatcher] rate``/``burst``)."""
        self.budgets: dict[str, Budget] = dict(budgets or {})
        self.backlog_size = backlog_size
        self.books: AssembledBook | None = None
        """Makes a BookSnapshot of a provider's assembled book (set by the gateway)."""
        self._lanes: dict[str, Lane] = {}
        self._turn = 0
        self._routes: dict[StreamKey, _Route] = {}
        self._slots: dict[tuple[type[Event], str, str], _Slot] = {}
        self._first_seen = self.dedup.first_seen
        self._accept = self.ordering.accept

    # -- consumers and routes (control path) -----------------------------------------

    def add_consumer(self, consumer_id: str) -> Lane:
        """Create the lane of a consumer."""
        if consumer_id in self._lanes:
            raise ControlError(f"consumer {consumer_id!r} is already registered")
        budget = self.budgets.get(consumer_id, self.budget)
        lane = Lane(
            consumer_id,
            size=self.lane_size,
            overflow=self.overflow,
            dlq=self.dlq,
            exec_size=self.exec_lane_size,
            rate=budget.rate,
            burst=budget.burst,
            backlog_size=self.backlog_size,
            telemetry=self._telemetry,
            books=self._book,
        )
        self._lanes[consumer_id] = lane
        return lane

    def remove_consumer(self, consumer_id: str) -> RouteChange:
        """Drop a consumer's routes and close its lane."""
        change = self.routing.remove_consumer(consumer_id)
        self._refresh(change)
        lane = self._lanes.pop(consumer_id, None)
        if lane is not None:
            lane.close()
        return change

    @property
    def clock(self) -> Clock:
        """The clock the dispatcher reads when an event carries no ``ts_ingest``."""
        return self._clock

    def lane(self, consumer_id: str) -> Lane:
        """The lane of ``consumer_id`` (KeyError when unknown)."""
        return self._lanes[consumer_id]

    @property
    def lanes(self) -> dict[str, Lane]:
        """Every consumer lane by consumer id (read-only use)."""
        return dict(self._lanes)

    def has_consumer(self, consumer_id: str) -> bool:
        """True when ``consumer_id`` has a lane."""
        return consumer_id in self._lanes

    def subscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Route ``keys`` to a registered consumer (idempotent).

        A book update stream that others already receive (the venue is not asked again)
        starts, for this consumer only, with a BookSnapshot of the provider's assembled book.
        """
        lane = self._lanes.get(consumer_id)
        if lane is None:
            raise ControlError(f"unknown consumer {consumer_id!r}")
        change = self.routing.add(consumer_id, keys)
        self._refresh(change)
        first = set(change.first)
        books = self.books
        for key in change.changed:
            if (
                key.type is EventType.BOOK_UPDATE
                and key not in first
                and books is not None
                and books.serves(key.provider, key.symbol)
            ):
                lane.resync(lane.gate(key), self._clock.monotonic_ns())
        return change

    def unsubscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Stop routing ``keys`` to ``consumer_id``; streams left without consumers reset."""
        change = self.routing.remove(consumer_id, keys)
        self._refresh(change)
        lane = self._lanes.get(consumer_id)
        if lane is not None:
            for key in change.changed:
                if key.type is not EventType.BOOK_SNAPSHOT:
                    lane.drop_gate(key)
        for key in change.last:
            self.ordering.forget(key)
        return change

    def _book(self, key: StreamKey) -> Event | None:
        """A BookSnapshot of ``key``'s assembled book now (None: not live, or no source)."""
        if self.books is None:
            return None
        return self.books(key.provider, key.symbol, self.ordering.last_seq(key))

    @property
    def routing_version(self) -> int:
        """The routing table's version (stamped on events by the orchestrator)."""
        return self.routing.version

    def set_ordering_mode(self, provider: str, type_: EventType, mode: OrderingMode) -> None:
        """Declare whether ``provider``'s ``type_`` streams are contiguous or monotonic."""
        self.ordering.set_mode(provider, type_, mode)

    def reset_ordering(self, provider: str, symbol: str | None = None) -> None:
        """Forget ordering state of a provider (restart, or a feed whose seqs restarted)."""
        self.ordering.reset(provider, symbol)

    def _refresh(self, change: RouteChange) -> None:
        for key in change.changed:
            lanes = [self._lanes[c] for c in self.routing.consumers(key) if c in self._lanes]
            if lanes:
                self._routes[key] = tuple((lane, lane.gate(key)) for lane in lanes)
            else:
                self._routes.pop(key, None)
        self._slots.clear()

    def _drop_slots(self) -> None:
        self._slots.clear()

    def _slot(self, event: Event) -> _Slot | None:
        """Build the cached slot of ``event``'s stream (None: nobody listens)."""
        key = event.stream_key
        gates = self._routes.get(key)
        if gates is None:
            if key.type is not EventType.BOOK_SNAPSHOT:
                return None
            # Nobody listens; a snapshot still goes on, as it re-bases its update stream.
            gates = ()
        slot = _Slot(key, gates, self.ordering.stream(key))
        self._slots[(type(event), event.provider, event.symbol)] = slot
        return slot

    # -- hot path --------------------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        """Take one canonical event (synchronous; called in the provider's reader task)."""
        stats = self.stats
        stats.received += 1
        slot = self._slots.get((type(event), event.provider, event.symbol))
        if slot is None:
            slot = self._slot(event)
            if slot is None:
                stats.unrouted += 1
                return
        if slot.dedup and not self._first_seen(event.event_id):
            stats.duplicates += 1
            return
        now = event.ts_ingest or self._clock.monotonic_ns()
        if not self._accept(slot.stream, event, now):
            return  # held, dropped as stale, or delivered by the ordering buffer itself
        if slot.snapshot:
            for lane, gate in slot.gates:
                lane.offer_snapshot(gate, event, now)
            return
        for offer, gate in slot.offers:
            offer(gate, event, now)

    def _route(self, key: StreamKey, event: Event) -> None:
        gates = self._routes.get(key)
        if gates is None:
            self.stats.unrouted += 1
            return
        now = event.ts_ingest or self._clock.monotonic_ns()
        if key.type is EventType.BOOK_SNAPSHOT:
            for lane, gate in gates:
                lane.offer_snapshot(gate, event, now)
            return
        for lane, gate in gates:
            lane.offer(gate, event, now)

    def flush(self, now_ns: int | None = None) -> None:
        """The 50 ms tick: release held events whose lateness expired, then what the
        consumers' gates hold, serving the lanes round-robin (a different one first each
        tick)."""
        now = self._clock.monotonic_ns() if now_ns is None else now_ns
        self.ordering.flush(now)
        lanes = list(self._lanes.values())
        if lanes:
            self._turn = start = (self._turn + 1) % len(lanes)
            for lane in lanes[start:] + lanes[:start]:
                lane.flush(now)

    def flush_all(self) -> None:
        """Release everything held (shutdown: deliver what is in flight), budgets aside;
        what the lanes have no room for stays held and counted."""
        now = self._clock.monotonic_ns()
        self.ordering.flush_all(now)
        for lane in self._lanes.values():
            lane.flush(now, force=True)

    def _report_gap(self, gap: GapReport) -> None:
        self._telemetry.emit(
            "ordering.gap",
            provider=gap.stream.provider,
            symbol=gap.stream.symbol,
            type=gap.stream.type.value,
            expected=gap.expected,
            resumed_at=gap.resumed_at,
            missing=gap.missing,
            reason=gap.reason,
        )

    # -- execution reports (lossless) ------------------------------------------------

    def route_exec_report_nowait(self, report: ExecReport) -> bool:
        """Queue a report for its owning consumer; False when that lane's exec queue is full.

        A report whose consumer is unknown is counted and reported, never silently lost.
        """
        lane = self._lanes.get(report.consumer_id)
        if lane is None:
            self._unrouted_exec(report)
            return True
        return lane.put_exec_nowait(report)

    def deliver_exec(self, consumer_id: str, report: ExecReport) -> None:
        """Synchronous lossless hand-off (``orders.reports.DeliverFn``): never drops.

        Beyond the lane's ``exec_size`` the report is still queued and counted
        (``exec_over_capacity``, telemetry ``backpressure.triggered{lane=exec}``).
        """
        lane = self._lanes.get(consumer_id)
        if lane is None:
            self._unrouted_exec(report)
            return
        if not lane.put_exec_nowait(report):
            lane.put_exec_over(report)
            self._telemetry.emit("backpressure.triggered", consumer=consumer_id, lane="exec")

    async def deliver_exec_report(self, report: ExecReport) -> None:
        """Queue a report for its owning consumer, waiting for room (never drops)."""
        lane = self._lanes.get(report.consumer_id)
        if lane is None:
            self._unrouted_exec(report)
            return
        await lane.put_exec(report)

    def _unrouted_exec(self, report: ExecReport) -> None:
        self.stats.exec_unrouted += 1
        self._telemetry.emit(
            "exec_report.unrouted",
            consumer=report.consumer_id,
            provider=report.provider,
            client_order_id=report.client_order_id,
        )

"""Per-consumer lanes: the only task boundary between the dispatcher and a consumer.

A :class:`Lane` has two bounded queues:

* **market data**, filled from the connection reader task (synchronous, never awaits)
  through :meth:`Lane.offer` / :meth:`Lane.offer_snapshot`, each event passing the
  consumer's :class:`~tradegw_core.bus.gate.StreamGate` for its stream: a token bucket,
  latest-wins merging of Ticker / BookUpdate / KlineSummary and a bounded backlog for the
  rest (design section 9; see :mod:`tradegw_core.bus.gate`). What gates hold is released
  by :meth:`Lane.flush` on the 50 ms tick. When a backlog is full as well, the lane's named
  :class:`OverflowPolicy` decides, and every loss is counted: ``dlq`` sends the *new* event
  to the bounded :class:`DeadLetterQueue`; ``drop_oldest`` evicts the backlog's oldest;
  ``drop_newest`` refuses the new one. :meth:`Lane.put_nowait` queues without a gate.
* **execution reports**, lossless. It is bounded too (``exec_size``); nothing is ever
  dropped from it. Memory stays bounded by backpressure: :meth:`Lane.put_exec_nowait`
  returns False when it is full and the producer then awaits :meth:`Lane.put_exec`, which
  waits for room. The consumer task always takes exec reports before market data, so the
  exec queue drains first. (Order-path producers run in their own tasks, so waiting there
  never stalls market data.) A synchronous producer that cannot wait uses
  :meth:`Lane.put_exec_over`, which still never drops: beyond ``exec_size`` it queues and
  counts ``exec_over_capacity`` (that producer's own bounded buffer is then the bound).

The consumer task calls :meth:`Lane.wait` once, then takes what is queued without awaiting:
exec reports one by one (:meth:`Lane.pop_exec_nowait`), market data in batches
(:meth:`Lane.take`): one task switch per burst, not per event (design section 2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import anyio

from tradegw_core.bus.dlq import DeadLetterQueue, OverflowPolicy
from tradegw_core.bus.gate import StreamGate, book_gate_key
from tradegw_core.contracts import Telemetry
from tradegw_core.schema.events import Event, ExecReport, StreamKey, encode_event

__all__ = ["BookSource", "DeadLetterQueue", "Lane", "LaneStats", "OverflowPolicy"]

TELL_EVERY_NS = 1_000_000_000
"""A stream of a consumer emits each telemetry event at most once a second (the first time
at once); the counts in between are in the metrics and in ``coalescing.applied``'s
``merged``."""

BookSource = Callable[[StreamKey], Event | None]
"""A BookSnapshot of the assembled book of a BookUpdate stream now (None: not live)."""


class LaneStats:
    """Counters of one lane.

    ``enqueued`` is not bumped per event: every queued event is delivered, evicted by
    ``drop_oldest`` or still queued, so it is derived from those (``queue``: the lane's
    market-data deque).
    """

    __slots__ = (
        "_queue",
        "bytes",
        "dead_lettered",
        "delivered",
        "dropped_newest",
        "dropped_oldest",
        "exec_delivered",
        "exec_over_capacity",
    )

    def __init__(self, queue: deque[Event] | None = None) -> None:
        self._queue: deque[Event] = queue if queue is not None else deque()
        self.delivered = 0
        self.bytes = 0
        """Canonical JSON bytes delivered (estimated from one event in 64)."""
        self.dropped_oldest = 0
        self.dropped_newest = 0
        self.dead_lettered = 0
        self.exec_delivered = 0
        self.exec_over_capacity = 0

    @property
    def enqueued(self) -> int:
        """Market-data events the lane ever accepted."""
        return self.delivered + self.dropped_oldest + len(self._queue)

    @property
    def dropped(self) -> int:
        """Every market-data event this lane did not deliver because it was full."""
        return self.dropped_oldest + self.dropped_newest + self.dead_lettered


class Lane:
    """One consumer's bounded market-data queue, its stream gates, and its exec-report queue.

    ``rate``/``burst`` are the token budget of each of this consumer's streams (``rate`` 0:
    unlimited); ``backlog_size`` bounds what each queued (non-coalescable) stream may hold
    beyond the lane; ``books`` makes a BookSnapshot of the provider's assembled book for a
    consumer whose book must be resynced (None: the book is not live; wait for the venue's).
    """

    def __init__(
        self,
        consumer_id: str,
        *,
        size: int = 10_000,
        overflow: OverflowPolicy | str = OverflowPolicy.DLQ,
        dlq: DeadLetterQueue | None = None,
        exec_size: int = 10_000,
        rate: int = 0,
        burst: int = 100,
        backlog_size: int = 1_000,
        telemetry: Telemetry | None = None,
        books: BookSource | None = None,
    ) -> None:
        if size < 1 or exec_size < 1 or backlog_size < 1:
            raise ValueError("lane sizes must be >= 1")
        self.consumer_id = consumer_id
        self.size = size
        self.exec_size = exec_size
        self.overflow = OverflowPolicy(overflow)
        self.dlq = dlq if dlq is not None else DeadLetterQueue()
        self.rate = rate
        self.burst = burst
        self.backlog_size = backlog_size
        self.telemetry = telemetry
        self.books = books
        self._md: deque[Event] = deque()
        self.stats = LaneStats(self._md)
        self._exec: deque[ExecReport] = deque()
        self._waiter: anyio.Event | None = None
        self._exec_room: anyio.Event | None = None
        self._closed = False
        self.gates: dict[StreamKey, StreamGate] = {}
        """This consumer's gates by stream (both book streams share the update's)."""
        self._held: dict[StreamGate, None] = {}
        self.throttled: dict[StreamGate, None] = {}
        """Gates that were ever throttled (their counters are exported)."""
        self._turn = 0
        self._sampled = 0
        self._event_bytes = 0

    # -- producer side: gated market data (the dispatcher) ---------------------------

    def gate(self, key: StreamKey) -> StreamGate:
        """The gate of ``key`` (created on first use, with this lane's budget)."""
        key = book_gate_key(key)
        gate = self.gates.get(key)
        if gate is None:
            gate = self.gates[key] = StreamGate(key, rate=self.rate, burst=self.burst)
        return gate

    def drop_gate(self, key: StreamKey) -> None:
        """Forget ``key``'s gate and whatever it holds (the consumer unsubscribed)."""
        gate = self.gates.pop(book_gate_key(key), None)
        if gate is not None:
            self._held.pop(gate, None)
            self.throttled.pop(gate, None)

    def offer(self, gate: StreamGate, event: Event, now_ns: int) -> None:
        """One market-data event of ``gate``'s stream: queued, held, merged or dead-lettered."""
        md = self._md
        if gate.idle and len(md) < self.size:
            # StreamGate.take, inlined: this runs for every event and every consumer.
            tat = gate.tat
            if tat < now_ns:
                tat = now_ns
            if not gate.rate or tat - now_ns <= gate.tau:
                gate.tat = tat + gate.interval
                md.append(event)
                if self._waiter is not None:
                    self._waiter.set()
                    self._waiter = None
                return
        self._hold(gate, event, now_ns)

    def _hold(self, gate: StreamGate, event: Event, now_ns: int) -> None:
        md = self._md
        if gate.coalesce:
            if gate.resync:
                gate.coalesced += 1  # the fresh snapshot to come includes it
                return
            gate.hold(event)
        else:
            backlog = gate.backlog
            if backlog is None:
                backlog = gate.backlog = deque()
            if len(backlog) >= self.backlog_size:
                self._overflow(gate, event)
                return
            backlog.append(event)
        if gate.idle:
            self._throttle(gate, now_ns, "lane_full" if len(md) >= self.size else "tokens")

    def offer_snapshot(self, gate: StreamGate, snapshot: Event, now_ns: int) -> None:
        """A venue BookSnapshot: it supersedes held updates; never costs a token.

        When the lane cannot take it, the gate resyncs: updates are dropped until there is
        room for a fresh snapshot of the assembled book.
        """
        gate.drop_pending()
        if len(self._md) < self.size:
            gate.resync = False
            self._append(snapshot)
            if not gate.idle and not gate.backlog:
                self._unthrottle(gate, now_ns)
            return
        gate.resync = True
        if gate.idle:
            self._throttle(gate, now_ns, "lane_full")

    def resync(self, gate: StreamGate, now_ns: int) -> None:
        """Give this consumer a fresh BookSnapshot of ``gate``'s book, then its updates."""
        gate.drop_pending()
        gate.resync = True
        if gate.idle:
            self._throttle(gate, now_ns, "resync")
        self._release(gate, now_ns)

    def flush(self, now_ns: int, *, force: bool = False) -> None:
        """Release what the gates hold, as tokens and room allow (the 50 ms tick).

        Gates take turns: each tick starts one gate further, so no stream of this consumer
        always goes first when room is short. ``force`` (at shutdown) ignores budgets.
        """
        held = self._held
        if not held:
            return
        gates = list(held)
        self._turn = start = (self._turn + 1) % len(gates)
        for gate in gates[start:] + gates[:start]:
            self._release(gate, now_ns, force)

    def _release(self, gate: StreamGate, now_ns: int, force: bool = False) -> None:
        md, size = self._md, self.size
        if gate.resync:
            if len(md) >= size:
                return
            snapshot = self.books(gate.key) if self.books is not None else None
            if snapshot is None:
                return  # not live: the venue's own snapshot will come
            gate.resync = False
            self._append(snapshot)
        backlog = gate.backlog
        while backlog and len(md) < size and (force or gate.take(now_ns)):
            self._append(backlog.popleft())
        if gate.pending is not None and len(md) < size and (force or gate.take(now_ns)):
            if gate.held > 1:
                gate.merged_untold += gate.held
            event = gate.release()
            assert event is not None
            self._append(event)
            if gate.merged_untold and now_ns - gate.merged_told_ns >= TELL_EVERY_NS:
                gate.merged_told_ns = now_ns
                merged, gate.merged_untold = gate.merged_untold, 0
                if self.telemetry is not None:
                    self.telemetry.emit(
                        "coalescing.applied",
                        consumer=self.consumer_id,
                        provider=gate.key.provider,
                        symbol=gate.key.symbol,
                        type=gate.key.type.value,
                        merged=merged,
                    )
        if not backlog and gate.pending is None and not gate.resync:
            self._unthrottle(gate, now_ns)

    def _append(self, event: Event) -> None:
        self._md.append(event)
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    def _throttle(self, gate: StreamGate, now_ns: int, reason: str) -> None:
        gate.idle = False
        gate.since = now_ns
        self._held[gate] = None
        self.throttled[gate] = None
        if now_ns - gate.throttle_told_ns < TELL_EVERY_NS:
            return  # told less than a second ago: the metrics keep the exact counts
        gate.throttle_told_ns = now_ns
        if self.telemetry is not None:
            key = gate.key
            self.telemetry.emit(
                "backpressure.triggered",
                consumer=self.consumer_id,
                provider=key.provider,
                symbol=key.symbol,
                type=key.type.value,
                reason=reason,
            )

    def _unthrottle(self, gate: StreamGate, now_ns: int) -> None:
        gate.idle = True
        gate.throttled_ns += max(0, now_ns - gate.since)
        self._held.pop(gate, None)

    def _overflow(self, gate: StreamGate, event: Event) -> None:
        """The backlog is full as well: the lane's overflow policy decides, counted."""
        policy = self.overflow
        backlog = gate.backlog
        assert backlog is not None  # only called for a full backlog
        if policy is OverflowPolicy.DROP_OLDEST:
            backlog.popleft()
            backlog.append(event)
            self.stats.dropped_oldest += 1
        elif policy is OverflowPolicy.DROP_NEWEST:
            self.stats.dropped_newest += 1
        else:
            gate.dead_lettered += 1
            self.stats.dead_lettered += 1
            self.dlq.put(self.consumer_id, event)

    # -- producer side: ungated queueing and exec reports ----------------------------

    def put_nowait(self, event: Event) -> bool:
        """Queue one market-data event; False when the overflow policy refused it."""
        md = self._md
        if len(md) >= self.size:
            policy = self.overflow
            if policy is OverflowPolicy.DROP_OLDEST:
                md.popleft()
                self.stats.dropped_oldest += 1
            elif policy is OverflowPolicy.DROP_NEWEST:
                self.stats.dropped_newest += 1
                return False
            else:
                self.stats.dead_lettered += 1
                self.dlq.put(self.consumer_id, event)
                return False
        md.append(event)
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None
        return True

    def put_exec_nowait(self, report: ExecReport) -> bool:
        """Queue an exec report; False (nothing queued) when full: then await put_exec."""
        if len(self._exec) >= self.exec_size:
            return False
        self._exec.append(report)
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None
        return True

    def put_exec_over(self, report: ExecReport) -> None:
        """Queue an exec report even beyond ``exec_size`` (counted); for sync producers."""
        if not self.put_exec_nowait(report):
            self.stats.exec_over_capacity += 1
            self._exec.append(report)

    async def put_exec(self, report: ExecReport) -> None:
        """Queue an exec report, waiting for room: never drops, never grows unbounded."""
        while not self.put_exec_nowait(report):
            if self._exec_room is None:
                self._exec_room = anyio.Event()
            await self._exec_room.wait()

    def close(self) -> None:
        """No more events: the consumer drains what is queued, then stops."""
        self._closed = True
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    # -- consumer side ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    async def wait(self) -> None:
        """Return once something is queued or the lane is closed."""
        while not self._exec and not self._md and not self._closed:
            self._waiter = anyio.Event()
            await self._waiter.wait()

    def pop_nowait(self) -> Event | None:
        """The next item, exec reports first; None when both queues are empty."""
        if self._exec:
            return self.pop_exec_nowait()
        md = self._md
        if md:
            self.stats.delivered += 1
            return md.popleft()
        return None

    def take(self, limit: int) -> list[Event]:
        """Up to ``limit`` queued market-data events, oldest first (one batch, no await)."""
        md = self._md
        if len(md) <= limit:
            batch = list(md)
            md.clear()
        else:
            popleft = md.popleft
            batch = [popleft() for _ in range(limit)]
        n = len(batch)
        if n:
            self._sampled -= n
            if self._sampled <= 0:  # size one event in 64: encoding each would cost ~1 us
                self._sampled = 64
                self._event_bytes = len(encode_event(batch[-1]))
            self.stats.delivered += n
            self.stats.bytes += n * self._event_bytes
        return batch

    def pop_exec_nowait(self) -> ExecReport | None:
        """The next exec report, or None."""
        if not self._exec:
            return None
        report = self._exec.popleft()
        self.stats.exec_delivered += 1
        if self._exec_room is not None:
            self._exec_room.set()
            self._exec_room = None
        return report

    @property
    def depth(self) -> int:
        """Queued market-data events."""
        return len(self._md)

    @property
    def exec_depth(self) -> int:
        """Queued exec reports."""
        return len(self._exec)

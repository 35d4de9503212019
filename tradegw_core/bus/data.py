"""Per-consumer lanes: the only task boundary between the dispatcher and a consumer.

A :class:`Lane` has two bounded queues:

* **market data**, filled with :meth:`Lane.put_nowait` from the connection reader task
  (synchronous, never awaits). When it is full the lane's named :class:`OverflowPolicy`
  decides, and every loss is counted: ``dlq`` sends the *new* event to the bounded
  :class:`DeadLetterQueue`; ``drop_oldest`` evicts the oldest queued event;
  ``drop_newest`` refuses the new one.
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
(:meth:`Lane.take`): one task switch per burst, not per event (design section 2). Deques
plus a wake-up event are used instead of an anyio memory object stream because
``drop_oldest`` needs the head of the queue and the consumer waits on two queues at once.
"""

from __future__ import annotations

import enum
from collections import deque

import anyio

from tradegw_core.schema.events import Event, ExecReport

__all__ = ["DeadLetterQueue", "Lane", "LaneStats", "OverflowPolicy"]


class OverflowPolicy(enum.StrEnum):
    """What a full market-data lane does with one more event."""

    DLQ = "dlq"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class DeadLetterQueue:
    """Bounded store of events a lane could not take, with counters.

    ``total`` counts every event ever sent here; when full, the oldest entry is evicted and
    ``evicted`` counts it, so nothing vanishes without a number.
    """

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError(f"DLQ size must be >= 1, got {size}")
        self.size = size
        self._items: deque[tuple[str, Event]] = deque()
        self.total = 0
        self.evicted = 0

    def put(self, consumer_id: str, event: Event) -> None:
        """Keep ``event`` that ``consumer_id``'s lane refused."""
        self.total += 1
        if len(self._items) >= self.size:
            self._items.popleft()
            self.evicted += 1
        self._items.append((consumer_id, event))

    def items(self) -> list[tuple[str, Event]]:
        """What the DLQ holds now, oldest first."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


class LaneStats:
    """Counters of one lane.

    ``enqueued`` is not bumped per event: every queued event is delivered, evicted by
    ``drop_oldest`` or still queued, so it is derived from those (``queue``: the lane's
    market-data deque).
    """

    __slots__ = (
        "_queue",
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
    """One consumer's bounded market-data queue plus its lossless exec-report queue."""

    def __init__(
        self,
        consumer_id: str,
        *,
        size: int = 10_000,
        overflow: OverflowPolicy | str = OverflowPolicy.DLQ,
        dlq: DeadLetterQueue | None = None,
        exec_size: int = 10_000,
    ) -> None:
        if size < 1 or exec_size < 1:
            raise ValueError("lane sizes must be >= 1")
        self.consumer_id = consumer_id
        self.size = size
        self.exec_size = exec_size
        self.overflow = OverflowPolicy(overflow)
        self.dlq = dlq if dlq is not None else DeadLetterQueue()
        self._md: deque[Event] = deque()
        self.stats = LaneStats(self._md)
        self._exec: deque[ExecReport] = deque()
        self._waiter: anyio.Event | None = None
        self._exec_room: anyio.Event | None = None
        self._closed = False

    # -- producer side ---------------------------------------------------------------

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
        self.stats.delivered += len(batch)
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

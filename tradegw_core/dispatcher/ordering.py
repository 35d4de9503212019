"""Per-stream ordering buffer (design section 4, LM-03): sans-I/O, driven by clock values.

One :class:`OrderingBuffer` holds the state of every StreamKey. ``offer`` is called on the
hot path with one event; ``flush`` is called by the gateway's 50 ms tick with the current
monotonic time. Neither awaits, logs or reads a clock.

Rules, per stream:

* The span of an event is ``[lo, hi]``: ``first_seq``/``last_seq`` for a BookUpdate that has
  them, else ``seq_provider`` for both. A BookUpdate that names its predecessor
  (``prev_seq``: the ``last_seq`` of the previous update its assembler emitted) continues
  from ``prev_seq + 1``, so diffs an assembler applied without emitting (Binance drops
  empty ones) do not look like a gap.
* **contiguous** mode (venues whose seqs step by one, e.g. Binance ``U``/``u``): an event
  that *fits* (``lo <= last + 1`` and ``hi > last``) is delivered at once, with no timer in
  the way. One beyond a gap is held in a heap; it is released when the gap fills, or when
  the gap has been open for the lateness tolerance (checked by ``flush``), in which case the
  gap is reported and delivery resumes after it. A gap opens when the first event beyond it
  arrives (``gap_since``: the earliest arrival among the held events), not when the event
  now at the top of the heap arrived: ``1@0ms, 5@0ms, 3@100ms`` releases 3 and 5 (gaps 2
  and 4) at the 150 ms tick. For a BookUpdate the check is by range: it fits when its
  ``first_seq`` is at most the last delivered ``last_seq`` + 1 (Binance ``U == prev u + 1``).
* **monotonic** mode (seqs only increase, e.g. trade ids, Coinbase ``sequence_num``):
  anything above the last delivered seq is delivered at once; nothing is ever held.
* In both modes an event whose span ends at or below the last delivered seq is stale: it is
  dropped and counted. The first event of a stream is always delivered.
* Events without a seq order by ``ts_ingest``: delivered at once unless older than the last
  delivered one of their stream (then stale).
* A BookSnapshot is never held or dropped here (dedup has already run); it re-bases the
  BookUpdate stream of its symbol to the snapshot's seq, because the updates that follow a
  (re)sync continue from the snapshot, not from the last update delivered before it.
* The heap is bounded (``max_held`` per stream): when full, the oldest gap is released at
  once and reported with reason ``overflow``.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Mapping
from itertools import count

import msgspec

from tradegw_core.schema.events import BookUpdate, Event, EventType, StreamKey

__all__ = [
    "GapReport",
    "OrderingBuffer",
    "OrderingMode",
    "OrderingStats",
    "StreamState",
    "declare_modes",
]


class OrderingMode(enum.StrEnum):
    """How a stream's seqs advance."""

    CONTIGUOUS = "contiguous"
    """Each event continues at ``last + 1``; a jump is a gap worth waiting for."""
    MONOTONIC = "monotonic"
    """Seqs increase but skip values (trade ids); a jump is normal, never waited for."""


class GapReport(msgspec.Struct, frozen=True, kw_only=True):
    """A gap that was given up on: seqs ``expected`` .. ``resumed_at - 1`` never came."""

    stream: StreamKey
    expected: int
    resumed_at: int
    waited_ns: int
    reason: str
    """``lateness`` (tolerance expired) or ``overflow`` (the heap was full)."""

    @property
    def missing(self) -> int:
        """How many seqs were skipped."""
        return self.resumed_at - self.expected


class OrderingStats:
    """Counters of one buffer (plain ints: read by metrics exporters)."""

    __slots__ = ("delivered", "gaps", "held", "missing", "stale_dropped")

    def __init__(self) -> None:
        self.delivered = 0
        self.held = 0
        self.stale_dropped = 0
        self.gaps = 0
        self.missing = 0


def declare_modes(ctx: object, modes: Mapping[EventType, OrderingMode]) -> bool:
    """Declare a provider's ordering modes through its context, when the context can.

    Providers call this at start-up with ``ctx`` their ``ProviderContext``; the gateway's
    context has ``set_ordering_mode``, a bare test context may not (then: False).
    """
    set_mode = getattr(ctx, "set_ordering_mode", None)
    if not callable(set_mode):
        return False
    for type_, mode in modes.items():
        set_mode(type_, mode)
    return True


class StreamState:
    """Ordering state of one stream (a handle for :meth:`OrderingBuffer.accept`)."""

    __slots__ = ("gap_dirty", "gap_since", "heap", "key", "last", "last_ts", "mode", "snapshot")

    def __init__(self, key: StreamKey, mode: OrderingMode) -> None:
        self.key = key
        self.mode = mode
        self.snapshot = key.type is EventType.BOOK_SNAPSHOT
        self.last: int | None = None
        self.last_ts = -1
        # (lo, tiebreak, hi, arrival_ns, event): a min-heap on lo.
        self.heap: list[tuple[int, int, int, int, Event]] = []
        # Earliest arrival among the held events (None when nothing is held); marked dirty
        # when held events leave, recomputed lazily by ``flush``.
        self.gap_since: int | None = None
        self.gap_dirty = False

    def held_since(self) -> int | None:
        """When the oldest open gap opened (the earliest arrival still held)."""
        if not self.heap:
            self.gap_since = None
        elif self.gap_dirty or self.gap_since is None:
            self.gap_since = min(entry[3] for entry in self.heap)
        self.gap_dirty = False
        return self.gap_since


class OrderingBuffer:
    """Ordering state of every stream; see the module docstring for the rules.

    ``deliver`` receives each released event in order; ``on_gap`` each gap given up on;
    ``on_drop`` is called after :meth:`reset` or :meth:`forget` dropped stream states, so
    whoever keeps :class:`StreamState` handles (the dispatcher) lets go of them.
    """

    def __init__(
        self,
        deliver: Callable[[StreamKey, Event], None],
        *,
        lateness_ns: int = 150_000_000,
        max_held: int = 10_000,
        default_mode: OrderingMode = OrderingMode.MONOTONIC,
        on_gap: Callable[[GapReport], None] | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        if lateness_ns < 0 or max_held < 1:
            raise ValueError("lateness_ns must be >= 0 and max_held >= 1")
        self._deliver = deliver
        self._on_gap = on_gap
        self._on_drop = on_drop
        self.lateness_ns = lateness_ns
        self.max_held = max_held
        self.default_mode = default_mode
        self.stats = OrderingStats()
        self._streams: dict[StreamKey, StreamState] = {}
        self._modes: dict[tuple[str, EventType], OrderingMode] = {}
        self._pending: set[StreamKey] = set()
        self._tiebreak = count()

    # -- configuration ---------------------------------------------------------------

    def set_mode(self, provider: str, type_: EventType, mode: OrderingMode) -> None:
        """Declare how ``provider``'s streams of ``type_`` advance (before they start)."""
        self._modes[(provider, type_)] = mode
        for key, stream in self._streams.items():
            if key.provider == provider and key.type is type_:
                stream.mode = mode

    def mode_of(self, key: StreamKey) -> OrderingMode:
        """The mode used for ``key``."""
        return self._modes.get((key.provider, key.type), self.default_mode)

    def reset(self, provider: str, symbol: str | None = None) -> None:
        """Forget the state of a provider's streams (after a restart, or seqs that reset).

        Held events are dropped with the state; a restarted feed re-sends what matters.
        """
        dropped = False
        for key in [k for k in self._streams if k.provider == provider]:
            if symbol is None or key.symbol == symbol:
                stream = self._streams.pop(key)
                self.stats.held -= len(stream.heap)
                self._pending.discard(key)
                dropped = True
        if dropped and self._on_drop is not None:
            self._on_drop()

    def forget(self, key: StreamKey) -> None:
        """Drop one stream's state (its last consumer left)."""
        stream = self._streams.pop(key, None)
        if stream is not None:
            self.stats.held -= len(stream.heap)
            self._pending.discard(key)
            if self._on_drop is not None:
                self._on_drop()

    def last_seq(self, key: StreamKey) -> int | None:
        """The last seq delivered on ``key`` (None before the first)."""
        stream = self._streams.get(key)
        return None if stream is None else stream.last

    def pending_streams(self) -> list[StreamKey]:
        """The streams holding events now."""
        return list(self._pending)

    def held(self, key: StreamKey) -> int:
        """How many events of ``key`` wait for a gap to fill (buffer depth)."""
        stream = self._streams.get(key)
        return 0 if stream is None else len(stream.heap)

    # -- hot path --------------------------------------------------------------------

    def stream(self, key: StreamKey) -> StreamState:
        """The state of ``key``, created on first use (a handle for :meth:`accept`).

        A handle is valid until ``on_drop`` is called.
        """
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = StreamState(key, self.mode_of(key))
        return stream

    def offer(self, key: StreamKey, event: Event, now_ns: int) -> None:
        """Take one event of stream ``key`` that arrived at ``now_ns``."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = StreamState(key, self.mode_of(key))
        if self.accept(stream, event, now_ns):
            self._deliver(key, event)

    def accept(self, stream: StreamState, event: Event, now_ns: int) -> bool:
        """:meth:`offer` on a stream handle, leaving the common case to the caller.

        True means: ``event`` is next in order and nothing waits behind it, the caller
        delivers it now (it is already counted as delivered). False means the buffer took
        care of it: delivered through ``deliver`` (with whatever it released), held, or
        dropped as stale.
        """
        if stream.snapshot:
            self._snapshot(stream, event)
            return False
        if type(event) is BookUpdate and event.last_seq is not None:
            hi = event.last_seq
            lo = event.first_seq if event.first_seq is not None else hi
            if event.prev_seq is not None and event.prev_seq < lo:
                lo = event.prev_seq + 1
        else:
            seq = event.seq_provider
            if seq is None:
                if event.ts_ingest < stream.last_ts:
                    self.stats.stale_dropped += 1
                    return False
                stream.last_ts = event.ts_ingest
                self.stats.delivered += 1
                return True
            lo = hi = seq
        last = stream.last
        if last is None or (lo <= last + 1 and hi > last):
            stream.last = hi
            if stream.heap:
                self._emit(stream, event)
                self._release_fitting(stream)
                return False
            self.stats.delivered += 1
            return True
        if hi <= last:
            self.stats.stale_dropped += 1
            return False
        if stream.mode is OrderingMode.MONOTONIC:
            stream.last = hi
            self.stats.delivered += 1
            return True
        heapq.heappush(stream.heap, (lo, next(self._tiebreak), hi, now_ns, event))
        if stream.gap_since is None or now_ns < stream.gap_since:
            stream.gap_since = now_ns
        self.stats.held += 1
        self._pending.add(stream.key)
        if len(stream.heap) > self.max_held:
            self._release_gap(stream, now_ns, "overflow")
        return False

    def flush(self, now_ns: int) -> None:
        """Release held events whose lateness tolerance has expired (the 50 ms tick)."""
        if not self._pending:
            return
        for key in list(self._pending):
            stream = self._streams[key]
            while True:
                since = stream.held_since()
                if since is None or since + self.lateness_ns > now_ns:
                    break
                self._release_gap(stream, now_ns, "lateness", since)
            if not stream.heap:
                self._pending.discard(key)

    def flush_all(self, now_ns: int) -> None:
        """Release everything held, reporting the gaps (at shutdown)."""
        for key in list(self._pending):
            stream = self._streams[key]
            while stream.heap:
                self._release_gap(stream, now_ns, "shutdown")
            self._pending.discard(key)

    # -- internals -------------------------------------------------------------------

    def _emit(self, stream: StreamState, event: Event) -> None:
        self.stats.delivered += 1
        self._deliver(stream.key, event)

    def _release_fitting(self, stream: StreamState) -> None:
        heap = stream.heap
        while heap:
            lo, _, hi, _, event = heap[0]
            last = stream.last if stream.last is not None else lo - 1
            if hi <= last:
                heapq.heappop(heap)
                self.stats.held -= 1
                self.stats.stale_dropped += 1
            elif lo <= last + 1:
                heapq.heappop(heap)
                self.stats.held -= 1
                stream.last = hi
                self._emit(stream, event)
            else:
                break
        stream.gap_dirty = True
        if not heap:
            stream.gap_since = None
            self._pending.discard(stream.key)

    def _release_gap(
        self, stream: StreamState, now_ns: int, reason: str, since: int | None = None
    ) -> None:
        lo, _, hi, arrival, event = heapq.heappop(stream.heap)
        self.stats.held -= 1
        opened = arrival if since is None else since
        expected = (stream.last if stream.last is not None else lo - 1) + 1
        if hi < expected:
            self.stats.stale_dropped += 1
        else:
            if lo > expected:
                self.stats.gaps += 1
                self.stats.missing += lo - expected
                if self._on_gap is not None:
                    self._on_gap(
                        GapReport(
                            stream=stream.key,
                            expected=expected,
                            resumed_at=lo,
                            waited_ns=now_ns - opened,
                            reason=reason,
                        )
                    )
            stream.last = hi
            self._emit(stream, event)
        self._release_fitting(stream)

    def _snapshot(self, stream: StreamState, event: Event) -> None:
        self._emit(stream, event)
        if event.seq_provider is not None:
            key = stream.key
            self._rebase(
                StreamKey(key.provider, key.symbol, EventType.BOOK_UPDATE), event.seq_provider
            )

    def _rebase(self, key: StreamKey, seq: int) -> None:
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = StreamState(key, self.mode_of(key))
        stream.last = seq
        if stream.heap:
            self._release_fitting(stream)

"""Fair share for one (consumer, stream): a token bucket, latest-wins coalescing, a backlog.

Design section 9. A :class:`StreamGate` is sans-I/O: no clock, no awaits; every method
takes the current monotonic time in ns (the event's ``ts_ingest`` on the hot path, the
flush tick's clock reading otherwise). The consumer's :class:`~tradegw_core.bus.data.Lane`
owns its gates and decides with them what goes into its queue:

* **Token bucket** (``rate`` events/s, ``burst``): each market-data event admitted to the
  lane costs one token. It is kept as its equivalent virtual schedule (GCRA): ``tat`` is
  when the bucket would be full again; an event is admitted when ``tat`` is at most
  ``(burst - 1) * interval`` ahead of now, and pushes ``tat`` one ``interval``
  (``10^9 // rate`` ns) further. Integers only, so a fake clock gives exact, repeatable
  budgets, and the hot path is two comparisons and an addition. ``rate == 0`` means
  unlimited.
* **Coalescing** (Ticker, BookUpdate, KlineSummary): when the lane is full or the bucket is
  empty, the gate keeps the latest event of the stream instead of queueing it; later ones
  replace it (latest wins). BookUpdates are *merged*: the level changes accumulate per price
  (the latest size of a price wins; removals, size 0, are kept), ``first_seq``/``prev_seq``
  come from the first update held and ``last_seq``, the header and the checksum from the
  latest, so a consumer's book after the merged update equals its book after all of them.
* **Backlog** (Trade, merged events, anything else): held in arrival order, released as
  tokens and room allow; when the backlog is full as well, the lane's overflow policy
  applies (``dlq`` by default) and the loss is counted.

One gate serves both book streams of a symbol (its key is the BookUpdate stream): a
BookSnapshot supersedes a held update, and when the lane cannot take a snapshot the gate
is marked ``resync``: updates are then dropped (counted as coalesced) until the lane has
room for a fresh BookSnapshot of the provider's assembled book.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from tradegw_core.schema.events import BookUpdate, Event, EventType, Level, StreamKey

__all__ = ["COALESCED_TYPES", "StreamGate", "book_gate_key"]

_NO_LEVELS: dict[Decimal, Level] = {}
"""Never written: ``hold`` gives a gate its own dicts with its first BookUpdate."""

NEVER_NS = 1 << 62
"""Far enough in the past for a time that never happened."""

COALESCED_TYPES = frozenset({EventType.TICKER, EventType.BOOK_UPDATE, EventType.KLINE_SUMMARY})
"""Stream types merged latest-wins under backpressure; every other type is queued."""


def book_gate_key(key: StreamKey) -> StreamKey:
    """The key of the gate that serves ``key``: both book streams share the update gate."""
    if key.type is EventType.BOOK_SNAPSHOT:
        return StreamKey(key.provider, key.symbol, EventType.BOOK_UPDATE)
    return key


class StreamGate:
    """Admission state of one (consumer, stream); see the module docstring."""

    __slots__ = (
        "asks",
        "backlog",
        "bids",
        "coalesce",
        "coalesced",
        "dead_lettered",
        "first",
        "held",
        "idle",
        "interval",
        "key",
        "merged_told_ns",
        "merged_untold",
        "pending",
        "rate",
        "resync",
        "since",
        "tat",
        "tau",
        "throttle_told_ns",
        "throttled_ns",
    )

    def __init__(self, key: StreamKey, *, rate: int, burst: int) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 (0: unlimited) and burst >= 1")
        self.key = key
        self.coalesce = key.type in COALESCED_TYPES
        self.rate = rate
        self.interval = 1_000_000_000 // rate if rate else 0
        """Nanoseconds one token takes to come back."""
        self.tau = (burst - 1) * self.interval
        """How far ahead of now ``tat`` may run: the burst."""
        self.tat = 0
        """When the bucket is full again (the GCRA's theoretical arrival time), ns."""
        self.idle = True
        """Nothing held: the hot path may admit straight into the lane."""
        self.pending: Event | None = None
        """The latest coalescable event held (latest wins)."""
        self.held = 0
        """How many original events ``pending`` stands for."""
        self.first: BookUpdate | None = None
        self.bids: dict[Decimal, Level] = _NO_LEVELS
        self.asks: dict[Decimal, Level] = _NO_LEVELS
        """Merged level changes of a held BookUpdate (fresh dicts from the first one on)."""
        self.backlog: deque[Event] | None = None
        """Queued events in arrival order (made on first use: most gates never need one)."""
        self.resync = False
        """The consumer's book needs a fresh BookSnapshot before any more updates."""
        self.since = 0
        self.throttled_ns = 0
        self.throttle_told_ns = -NEVER_NS
        """When ``backpressure.triggered`` last told of this stream (ns)."""
        self.merged_told_ns = -NEVER_NS
        self.merged_untold = 0
        """Original events merged since ``coalescing.applied`` last told it."""
        self.coalesced = 0
        """Original events that reached the consumer only merged into a later one."""
        self.dead_lettered = 0

    # -- token bucket ----------------------------------------------------------------

    def take(self, now_ns: int) -> bool:
        """Spend one token if there is one at ``now_ns`` (``Lane.offer`` inlines this)."""
        if not self.rate:
            return True
        tat = self.tat
        if tat < now_ns:
            tat = now_ns
        elif tat - now_ns > self.tau + self.interval:
            tat = now_ns + self.tau  # a reading from another time base: start afresh
        if tat - now_ns > self.tau:
            return False
        self.tat = tat + self.interval
        return True

    # -- coalescing ------------------------------------------------------------------

    def hold(self, event: Event) -> None:
        """Keep a coalescable ``event``: it replaces (or merges into) what is held."""
        if self.pending is None:
            self.pending = event
            self.held = 1
            if type(event) is BookUpdate:
                self.first = event
                self.bids = {lv.price: lv for lv in event.bids}
                self.asks = {lv.price: lv for lv in event.asks}
            return
        self.pending = event
        self.held += 1
        self.coalesced += 1
        if type(event) is BookUpdate:
            bids, asks = self.bids, self.asks
            for lv in event.bids:
                bids[lv.price] = lv
            for lv in event.asks:
                asks[lv.price] = lv

    def drop_pending(self) -> None:
        """Forget what is held (a BookSnapshot superseded it); counted as coalesced."""
        if self.pending is not None:
            self.coalesced += self.held
            self.pending = None
            self.first = None
            self.held = 0

    def release(self) -> Event | None:
        """The held event, merged when it stands for several; the gate lets go of it."""
        event = self.pending
        if event is None:
            return None
        first, held = self.first, self.held
        self.pending = None
        self.first = None
        self.held = 0
        if held > 1 and first is not None and type(event) is BookUpdate:
            return BookUpdate(
                event_id=event.event_id,
                provider=event.provider,
                symbol=event.symbol,
                venue_symbol=event.venue_symbol,
                seq_provider=event.seq_provider,
                ts_exchange=event.ts_exchange,
                ts_ingest=event.ts_ingest,
                routing_version=event.routing_version,
                trace_id=event.trace_id,
                bids=tuple(self.bids.values()),
                asks=tuple(self.asks.values()),
                first_seq=first.first_seq if first.first_seq is not None else first.last_seq,
                last_seq=event.last_seq,
                prev_seq=first.prev_seq,
                checksum=event.checksum,
            )
        return event

    @property
    def depth(self) -> int:
        """Events held now (backlog, plus one for a held coalesced event)."""
        return (len(self.backlog) if self.backlog else 0) + (self.pending is not None)

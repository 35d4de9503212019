"""Merge windows of one MergeKey (design section 7): a sans-I/O state machine.

:class:`MergeWindows` is driven by two calls, :meth:`~MergeWindows.offer` (one fragment and
the gateway's wall-clock ``now``) and :meth:`~MergeWindows.tick` (``now`` alone, from the
gateway's clock tick); both return what happened as plain values (:class:`ClosedWindow`,
:class:`LateFragment`, :class:`RejectedFragment`). Nothing here awaits, logs or reads a clock.

Rules (event time ``t`` is the fragment's venue timestamp ``ts_exchange``; a venue that sends
none is timed by its arrival, ``now``):

* A window opens on the first fragment that belongs to no open window, at ``open = t``, and
  covers event time ``[open, open + window)``. Windows of one key never overlap: a new one
  opens only at or after the end of the newest window (the *frontier*).
* A window closes on time once the gateway clock passes ``open + window + allowed_skew``
  (the skew is the grace left to venues whose clocks or feeds lag), whether or not a
  fragment arrives; or at once when it holds ``max_count`` fragments. A window closed by
  count covers no event time after its newest fragment, so the next window may open there.
* A closed window with at least one fragment from every expected provider is *complete*
  (the caller emits one MergedEvent); otherwise it is *suppressed*, with the providers
  missing.
* A fragment whose event time lies behind the frontier and in no open window belongs to a
  window already closed (or passed): it is *late* and dropped. So is one that would open a
  window whose time already ended (``t + window + allowed_skew <= now``).
* A fragment more than ``allowed_skew`` ahead of the gateway clock is rejected
  (``clock_ahead``), so one bad timestamp cannot hold windows open into the future; a
  second copy of one fragment (same ``event_id``, e.g. from A/B connections) is rejected
  (``duplicate``).
* At most ``max_open`` windows are open at once; beyond that the oldest is closed early
  (``evicted``). Under sane clocks at most ``2 + 2 * skew / window`` are ever open, so state
  is bounded by ``max_open * max_count`` fragments whatever the input.
* :meth:`~MergeWindows.reset` discards every open window (nothing is replayed).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    KlineSummary,
    Ticker,
    Trade,
)

__all__ = [
    "MERGEABLE_TYPES",
    "CloseReason",
    "ClosedWindow",
    "Fragment",
    "LateFragment",
    "MergeKey",
    "MergeOutput",
    "MergeSpec",
    "MergeWindowStats",
    "MergeWindows",
    "RejectedFragment",
]

Fragment: TypeAlias = BookSnapshot | BookUpdate | Trade | Ticker | KlineSummary
"""What a merge window holds (a MergedEvent's fragment types)."""

MERGEABLE_TYPES: dict[EventType, type[Fragment]] = {
    EventType.TRADE: Trade,
    EventType.TICKER: Ticker,
    EventType.BOOK_SNAPSHOT: BookSnapshot,
    EventType.BOOK_UPDATE: BookUpdate,
    EventType.KLINE_SUMMARY: KlineSummary,
}
"""The event types a merge can be made of, and their classes."""

_MS = 1_000_000


class MergeKey(NamedTuple):
    """(symbol, type): one merge per key and gateway."""

    symbol: str
    type: EventType

    @property
    def label(self) -> str:
        """``BTC-USDT/Trade``: the key as a metric / telemetry label."""
        return f"{self.symbol}/{self.type.value}"


@dataclass(frozen=True, slots=True)
class MergeSpec:
    """What a MergedSubscribe asked for (providers distinct, in the order first given)."""

    symbol: str
    type: EventType
    providers: tuple[str, ...]
    window_ms: int
    max_count: int

    @property
    def key(self) -> MergeKey:
        """The spec's MergeKey."""
        return MergeKey(self.symbol, self.type)


class CloseReason(enum.StrEnum):
    """Why a window closed."""

    TIME = "time"
    COUNT = "count"
    EVICTED = "evicted"


class ClosedWindow:
    """A window that closed: complete (emit it) or suppressed (``missing`` providers)."""

    __slots__ = ("count", "end_ns", "fragments", "missing", "open_ns", "reason", "seq")

    def __init__(
        self,
        seq: int,
        open_ns: int,
        end_ns: int,
        fragments: dict[str, list[Fragment]],
        count: int,
        reason: CloseReason,
        missing: tuple[str, ...],
    ) -> None:
        self.seq = seq
        """1, 2, 3... per MergeWindows: a gap in emitted seqs is a suppressed window."""
        self.open_ns = open_ns
        self.end_ns = end_ns
        """End of the covered event time (exclusive)."""
        self.fragments = fragments
        """provider -> its fragments in arrival order (every expected provider is a key)."""
        self.count = count
        self.reason = reason
        self.missing = missing

    @property
    def complete(self) -> bool:
        """True when every expected provider contributed."""
        return not self.missing


@dataclass(frozen=True, slots=True)
class LateFragment:
    """A fragment dropped because its window had closed."""

    provider: str
    symbol: str
    seq_provider: int | None
    event_ns: int
    lateness_ns: int
    """How long after its event time it arrived (gateway clock minus venue timestamp)."""


@dataclass(frozen=True, slots=True)
class RejectedFragment:
    """A fragment refused: ``clock_ahead`` (too far in the future) or ``duplicate``."""

    provider: str
    reason: str
    ahead_ns: int = 0


MergeOutput: TypeAlias = ClosedWindow | LateFragment | RejectedFragment


class MergeWindowStats:
    """Counters of one merge (plain ints; exported by the merge stage)."""

    __slots__ = ("discarded", "emitted", "fragments", "late", "rejected", "suppressed")

    def __init__(self) -> None:
        self.fragments = 0
        """Fragments taken into a window."""
        self.late = 0
        self.rejected = 0
        self.emitted = 0
        self.suppressed = 0
        self.discarded = 0
        """Open windows thrown away by :meth:`MergeWindows.reset`."""


class _Window:
    __slots__ = ("count", "deadline", "end", "frags", "have", "ids", "max_t", "open")

    def __init__(self, open_ns: int, end: int, deadline: int, providers: Sequence[str]) -> None:
        self.open = open_ns
        self.end = end
        self.deadline = deadline
        self.frags: dict[str, list[Fragment]] = {p: [] for p in providers}
        self.have = 0
        self.count = 0
        self.max_t = open_ns
        self.ids: set[str] = set()


_NOTHING: tuple[MergeOutput, ...] = ()


class MergeWindows:
    """The windows of one merge (see the module docstring for the rules)."""

    def __init__(self, spec: MergeSpec, *, allowed_skew_ns: int, max_open: int = 8) -> None:
        if len(set(spec.providers)) != len(spec.providers) or len(spec.providers) < 2:
            raise ValueError("a merge needs at least two distinct providers")
        if spec.window_ms <= 0 or spec.max_count < 1 or allowed_skew_ns < 0 or max_open < 1:
            raise ValueError("window_ms, max_count and max_open must be positive, skew >= 0")
        self.spec = spec
        self.key = spec.key
        self._providers = spec.providers
        self._n = len(spec.providers)
        self._window = spec.window_ms * _MS
        self._max_count = spec.max_count
        self._skew = allowed_skew_ns
        self._max_open = max_open
        self._open: list[_Window] = []
        self._frontier: int | None = None
        self._seq = 0
        self.stats = MergeWindowStats()

    @property
    def open_windows(self) -> int:
        """Windows open now."""
        return len(self._open)

    @property
    def held(self) -> int:
        """Fragments held in open windows."""
        return sum(w.count for w in self._open)

    def offer(self, event: Fragment, now_ns: int) -> Sequence[MergeOutput]:
        """Take one fragment at gateway wall-clock ``now_ns``; what closed or was dropped."""
        provider = event.provider
        if provider not in self._providers:
            return _NOTHING
        t = event.ts_exchange
        if t is None:
            t = now_ns
        wins = self._open
        out: list[MergeOutput] | tuple[MergeOutput, ...] = _NOTHING
        if wins and wins[0].deadline <= now_ns:
            out = self.tick(now_ns)
        if t > now_ns + self._skew:
            self.stats.rejected += 1
            return [*out, RejectedFragment(provider, "clock_ahead", t - now_ns)]
        for w in wins:
            if w.open <= t < w.end:
                break
        else:
            frontier = self._frontier
            if (frontier is not None and t < frontier) or t + self._window + self._skew <= now_ns:
                self.stats.late += 1
                late = LateFragment(provider, event.symbol, event.seq_provider, t, now_ns - t)
                return [*out, late]
            if len(wins) >= self._max_open:
                out = [*out, self._close(wins.pop(0), CloseReason.EVICTED)]
            w = _Window(t, t + self._window, t + self._window + self._skew, self._providers)
            wins.append(w)
            self._frontier = w.end
        if event.event_id in w.ids:
            self.stats.rejected += 1
            return [*out, RejectedFragment(provider, "duplicate")]
        w.ids.add(event.event_id)
        bucket = w.frags[provider]
        if not bucket:
            w.have += 1
        bucket.append(event)
        w.count += 1
        self.stats.fragments += 1
        if t > w.max_t:
            w.max_t = t
        if w.count >= self._max_count:
            wins.remove(w)
            if self._frontier == w.end:
                # The window covers nothing after its newest fragment: the next may open there.
                self._frontier = w.max_t + 1
            return [*out, self._close(w, CloseReason.COUNT)]
        return out

    def tick(self, now_ns: int) -> list[MergeOutput]:
        """Close every window whose time (plus the allowed skew) has passed at ``now_ns``."""
        wins = self._open
        closed: list[MergeOutput] = []
        while wins and wins[0].deadline <= now_ns:
            closed.append(self._close(wins.pop(0), CloseReason.TIME))
        return closed

    def reset(self) -> int:
        """Discard every open window (restart); returns how many fragments were dropped."""
        dropped = self.held
        self.stats.discarded += len(self._open)
        self._open.clear()
        self._frontier = None
        return dropped

    def _close(self, w: _Window, reason: CloseReason) -> ClosedWindow:
        self._seq += 1
        missing: tuple[str, ...] = ()
        if w.have < self._n:
            missing = tuple(p for p in self._providers if not w.frags[p])
            self.stats.suppressed += 1
        else:
            self.stats.emitted += 1
        end = w.max_t + 1 if reason is CloseReason.COUNT else w.end
        return ClosedWindow(self._seq, w.open, end, w.frags, w.count, reason, missing)

    def describe(self) -> str:
        """The spec as a user reads it in an error message."""
        s = self.spec
        return (
            f"providers {', '.join(s.providers)}, window_ms={s.window_ms}, max_count={s.max_count}"
        )

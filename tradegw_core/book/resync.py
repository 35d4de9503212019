"""Sans-I/O timing rules of the book stage: resync pacing, backoff, refresh, staleness.

:class:`ResyncScheduler` holds one :class:`SymbolTimers` per symbol and is driven by
explicit ``now_ns`` values, so every timing rule is tested with plain numbers.
:meth:`ResyncScheduler.poll` returns the actions due now and when to poll next; the async
service in :mod:`tradegw_core.book.stage` only sleeps until then and runs the actions.

Rules:

* a resync request is coalesced per symbol: one pending request, whatever the count; a
  request during a fetch in flight leaves one more pending for after it;
* snapshot fetches (resyncs and reconciling refreshes) across all symbols share one token
  bucket (``snapshot_rate_per_s``, burst ``snapshot_burst``) and at most ``max_inflight``
  run at once, oldest request first: no snapshot storm after a reconnect;
* a failed fetch, or one after which the book still did not sync, is retried after a
  capped exponential backoff with full jitter (or the venue's ``Retry-After``);
* once synced, a refresh is due after a jittered ``refresh_min_s..refresh_max_s``;
* no output for ``stale_after_s`` (and nothing pending or in flight) makes it stale.

Usage::

    sched = ResyncScheduler(BookStageSettings(), rng=random.Random(1))
    timers = sched.add("BTC-USDT", now_ns=0, has_reconcile=True)
    sched.request(timers, ResyncReason.GAP, now_ns=0)
    actions, wake_ns = sched.poll(now_ns=0)     # [Action("fetch", "BTC-USDT", GAP)], None
    sched.finished(timers, now_ns=10, ok=True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, NamedTuple

from tradegw_core.contracts import ResyncReason
from tradegw_core.net.backoff import Backoff
from tradegw_core.net.ratelimit import TokenBucket

__all__ = ["Action", "BookStageSettings", "ResyncScheduler", "SymbolTimers"]

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BookStageSettings:
    """Per-provider book stage settings (the config model maps onto these)."""

    refresh_min_s: float | None = 120.0
    """Earliest periodic refresh after a sync; None disables the refresh."""
    refresh_max_s: float = 300.0
    """Latest periodic refresh after a sync (jittered uniformly between min and max)."""
    stale_after_s: float | None = 300.0
    """No book output for this long makes the book stale; None disables the check."""
    snapshot_rate_per_s: float = 2.0
    """Sustained snapshot fetches per second, across the provider's symbols."""
    snapshot_burst: int = 5
    """Fetches allowed back to back before the rate applies."""
    max_inflight: int = 4
    """Snapshot fetches running at once."""
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0

    def __post_init__(self) -> None:
        if self.refresh_min_s is not None and not 0 < self.refresh_min_s <= self.refresh_max_s:
            raise ValueError(
                f"refresh needs 0 < refresh_min_s <= refresh_max_s "
                f"(got {self.refresh_min_s}, {self.refresh_max_s})"
            )
        if self.stale_after_s is not None and self.stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be > 0 or None, got {self.stale_after_s}")
        if self.snapshot_rate_per_s <= 0 or self.snapshot_burst < 1 or self.max_inflight < 1:
            raise ValueError(
                "snapshot_rate_per_s must be > 0, snapshot_burst and max_inflight >= 1"
            )


class Action(NamedTuple):
    """Something due now.

    ``request``: ask the stage to resync (stale, or a refresh without reconcile);
    ``fetch``: run the provider's resync callback; ``reconcile``: run its reconcile callback.
    """

    kind: Literal["request", "fetch", "reconcile"]
    symbol: str
    reason: ResyncReason


class SymbolTimers:
    """Timing state of one symbol (the stage writes ``last_activity_ns`` on every output)."""

    __slots__ = (
        "backoff",
        "has_reconcile",
        "inflight",
        "last_activity_ns",
        "live",
        "next_refresh_ns",
        "not_before_ns",
        "pending",
        "requested_ns",
        "symbol",
    )

    def __init__(self, symbol: str, now_ns: int, has_reconcile: bool, backoff: Backoff) -> None:
        self.symbol = symbol
        self.has_reconcile = has_reconcile
        self.backoff = backoff
        self.last_activity_ns = now_ns
        self.live = False
        self.pending: ResyncReason | None = None
        self.requested_ns = 0
        self.inflight = False
        self.not_before_ns = 0
        self.next_refresh_ns: int | None = None


class ResyncScheduler:
    """Decides which snapshot fetches, refreshes and stale checks are due (sans-I/O)."""

    def __init__(
        self, settings: BookStageSettings, *, rng: random.Random | None = None, now_ns: int = 0
    ) -> None:
        self.settings = settings
        self._rng = rng if rng is not None else random.Random()
        self._bucket = TokenBucket(
            settings.snapshot_burst,
            settings.snapshot_burst / settings.snapshot_rate_per_s,
            now_ns=now_ns,
        )
        self._timers: dict[str, SymbolTimers] = {}
        self._inflight = 0

    def add(self, symbol: str, now_ns: int, *, has_reconcile: bool) -> SymbolTimers:
        """Start tracking ``symbol`` (unsynced); replaces an earlier entry."""
        s = self.settings
        backoff = Backoff(base_s=s.backoff_base_s, cap_s=s.backoff_cap_s, rng=self._rng)
        self.remove(symbol)
        timers = SymbolTimers(symbol, now_ns, has_reconcile, backoff)
        self._timers[symbol] = timers
        return timers

    def remove(self, symbol: str) -> None:
        """Stop tracking ``symbol`` (its fetch in flight, if any, is forgotten)."""
        timers = self._timers.pop(symbol, None)
        if timers is not None and timers.inflight:
            timers.inflight = False
            self._inflight -= 1

    def request(self, timers: SymbolTimers, reason: ResyncReason, now_ns: int) -> bool:
        """Ask for a resync; False when one is already pending (coalesced)."""
        timers.live = False
        timers.next_refresh_ns = None
        if timers.pending is not None:
            return False
        timers.pending = reason
        timers.requested_ns = now_ns
        return True

    def synced(self, timers: SymbolTimers, now_ns: int) -> None:
        """The stage emitted a consistent snapshot: forget failures, plan the refresh."""
        timers.live = True
        timers.last_activity_ns = now_ns
        timers.backoff.reset()
        timers.not_before_ns = 0
        self._plan_refresh(timers, now_ns)

    def finished(
        self,
        timers: SymbolTimers,
        now_ns: int,
        *,
        ok: bool,
        reason: ResyncReason | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """A fetch or reconcile of ``timers`` ended (``reason`` set for a failed resync)."""
        if timers.inflight:
            timers.inflight = False
            self._inflight -= 1
        timers.last_activity_ns = max(timers.last_activity_ns, now_ns)
        if ok and timers.live:
            timers.backoff.reset()
            if timers.pending is None and timers.next_refresh_ns is None:
                self._plan_refresh(timers, now_ns)
            return
        delay_ns = int(max(timers.backoff.failure(), retry_after_s or 0.0) * _NS)
        if reason is not None and timers.pending is None and not timers.live:
            timers.pending = reason
            timers.requested_ns = now_ns
        if timers.live and timers.pending is None:
            timers.next_refresh_ns = now_ns + delay_ns  # a failed refresh: try again later
        else:
            timers.not_before_ns = now_ns + delay_ns

    def poll(self, now_ns: int) -> tuple[list[Action], int | None]:
        """Actions due at ``now_ns`` and the time of the next poll (None: only on request)."""
        actions: list[Action] = []
        wake: int | None = None
        stale_ns = _to_ns(self.settings.stale_after_s)
        waiting: list[SymbolTimers] = []
        for t in self._timers.values():
            if t.inflight:
                continue
            if t.pending is not None:
                waiting.append(t)
                continue
            if stale_ns is not None:
                due = t.last_activity_ns + stale_ns
                if now_ns >= due:
                    actions.append(Action("request", t.symbol, ResyncReason.STALE))
                    continue
                wake = _earliest(wake, due)
            if t.next_refresh_ns is not None:
                if now_ns >= t.next_refresh_ns:
                    if t.has_reconcile:
                        waiting.append(t)
                    else:
                        actions.append(Action("request", t.symbol, ResyncReason.REFRESH))
                else:
                    wake = _earliest(wake, t.next_refresh_ns)
        # Requested resyncs first (oldest first), then due reconciling refreshes.
        waiting.sort(key=lambda t: (t.pending is None, t.requested_ns))
        for t in waiting:
            if t.not_before_ns > now_ns:
                wake = _earliest(wake, t.not_before_ns)
                continue
            if self._inflight >= self.settings.max_inflight:
                break  # a finishing fetch triggers the next poll
            delay_s = self._bucket.delay(1, now_ns)
            if delay_s > 0:
                wake = _earliest(wake, now_ns + max(1, int(delay_s * _NS)))
                break
            self._bucket.reserve(1, now_ns)
            t.inflight = True
            self._inflight += 1
            if t.pending is not None:
                actions.append(Action("fetch", t.symbol, t.pending))
                t.pending = None
            else:
                t.next_refresh_ns = None
                actions.append(Action("reconcile", t.symbol, ResyncReason.REFRESH))
        return actions, wake

    def _plan_refresh(self, timers: SymbolTimers, now_ns: int) -> None:
        s = self.settings
        if s.refresh_min_s is None:
            timers.next_refresh_ns = None
            return
        timers.next_refresh_ns = now_ns + int(
            self._rng.uniform(s.refresh_min_s, s.refresh_max_s) * _NS
        )


def _to_ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * _NS)


def _earliest(a: int | None, b: int) -> int:
    return b if a is None or b < a else a

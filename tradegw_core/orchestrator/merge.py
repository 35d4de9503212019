"""The merge stage: windowed multi-venue merges in the orchestrator (design section 7).

One :class:`MergeStage` per gateway holds a :class:`~tradegw_core.orchestrator.windows.MergeWindows`
per MergeKey (symbol, type); consumers that ask for the same merge share it, so each merge
is computed once. :meth:`MergeStage.offer` sees every stamped event on the hot path (one
dict lookup when the event belongs to no merge) and :meth:`MergeStage.tick` closes windows
on time from the gateway's clock tick, so a window closes even when no fragment comes.

A complete window becomes one :class:`~tradegw_core.schema.events.MergedEvent`, handed to
the dispatcher like any event: its stream is ``StreamKey("merge:<type>", symbol, Merged)``
(:func:`merged_stream`), routed to the consumers that sent the MergedSubscribe, through
their normal lanes. Its ``seq_provider`` is the window's number within the merge (a gap
is a suppressed window) and ``merge_id`` is unique across process restarts.

What it reports (telemetry bus, ops only, and Prometheus with bounded labels):

* ``merge.suppressed_partial{merge_key, missing_providers}``;
  ``tradegw_merge_windows_suppressed_total{merge_key}``
* ``late_event.dropped{provider, symbol, seq_provider, lateness_ms, merge_key}``;
  ``tradegw_merge_late_dropped_total{merge_key, provider}``
* ``merge.fragment_rejected{merge_key, provider, reason}`` (``clock_ahead``, ``duplicate``);
  ``tradegw_merge_rejected_total{merge_key, reason}``
* ``tradegw_merge_windows_emitted_total{merge_key}``, ``tradegw_merge_fragments_total``,
  ``tradegw_merge_open_windows{merge_key}`` and ``tradegw_merge_clock_skew_ms{provider}``:
  per provider, a moving average of gateway clock minus venue timestamp over the
  fragments it sent into merges (network delay plus clock offset).

In-flight windows live only in memory: a new gateway starts with none, a provider
restart discards the windows of the merges it is part of (:meth:`MergeStage.reset`), and
a merge whose last consumer leaves drops its own; nothing is replayed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.orchestrator.windows import (
    MERGEABLE_TYPES,
    ClosedWindow,
    LateFragment,
    MergeKey,
    MergeOutput,
    MergeSpec,
    MergeWindows,
)
from tradegw_core.schema.events import Event, EventType, MergedEvent, StreamKey, make_event_id

__all__ = ["MERGE_PROVIDER_PREFIX", "MergeStage", "merged_stream"]

MERGE_PROVIDER_PREFIX = "merge:"
"""``provider`` of MergedEvents: ``merge:Trade``, ``merge:Ticker``, ..."""

_MS = 1_000_000


def merged_stream(key: MergeKey) -> StreamKey:
    """The dispatcher stream a merge's MergedEvents travel on."""
    return StreamKey(f"{MERGE_PROVIDER_PREFIX}{key.type.value}", key.symbol, EventType.MERGED)


class _Merge:
    __slots__ = ("exported", "key", "label", "source", "token", "windows")

    def __init__(self, windows: MergeWindows, token: str) -> None:
        self.windows = windows
        self.key = windows.key
        self.label = windows.key.label
        self.source = merged_stream(windows.key).provider
        self.token = token
        self.exported = 0


class MergeStage:
    """Every merge of one gateway (implements the orchestrator's ``MergeStage`` seam)."""

    def __init__(
        self,
        deliver: Callable[[Event], None],
        *,
        clock: Clock,
        telemetry: Telemetry,
        metrics: Any = None,
        routing_version: Callable[[], int] = lambda: 0,
        allowed_skew_ms: int = 1000,
        max_open_windows: int = 8,
        max_merges: int = 64,
    ) -> None:
        self._deliver = deliver
        self._clock = clock
        self._telemetry = telemetry
        self._metrics = metrics
        self._routing_version = routing_version
        self.allowed_skew_ms = allowed_skew_ms
        self.max_open_windows = max_open_windows
        self.max_merges = max_merges
        self._epoch = secrets.token_hex(4)
        self._made = 0
        self._merges: dict[MergeKey, _Merge] = {}
        self._by_class: dict[tuple[type[Event], str], _Merge] = {}
        self._skew: dict[str, int] = {}
        self.emitted = 0
        """MergedEvents handed to the dispatcher since start."""

    # -- control path ------------------------------------------------------------------

    @property
    def merges(self) -> dict[MergeKey, MergeWindows]:
        """Every running merge by key (read-only use)."""
        return {k: m.windows for k, m in self._merges.items()}

    def get(self, key: MergeKey) -> MergeWindows | None:
        """The running merge of ``key``, if any."""
        merge = self._merges.get(key)
        return None if merge is None else merge.windows

    def add(self, spec: MergeSpec) -> MergeWindows:
        """Start the merge of ``spec`` (its key must not run yet; at most ``max_merges``)."""
        if spec.key in self._merges:
            raise ValueError(f"merge {spec.key.label} already runs")
        if len(self._merges) >= self.max_merges:
            raise ValueError(f"at most {self.max_merges} merges may run at once")
        windows = MergeWindows(
            spec, allowed_skew_ns=self.allowed_skew_ms * _MS, max_open=self.max_open_windows
        )
        self._made += 1
        merge = _Merge(windows, f"{self._epoch}-{self._made}")
        self._merges[spec.key] = merge
        self._by_class[(MERGEABLE_TYPES[spec.type], spec.symbol)] = merge
        return windows

    def remove(self, key: MergeKey) -> None:
        """Stop the merge of ``key``; its open windows are discarded."""
        merge = self._merges.pop(key, None)
        if merge is None:
            return
        del self._by_class[(MERGEABLE_TYPES[key.type], key.symbol)]
        self._discard(merge)
        if self._metrics is not None:
            self._metrics.set("tradegw_merge_open_windows", 0, merge_key=merge.label)

    def reset(self, provider: str | None = None) -> None:
        """Discard the open windows of every merge (of ``provider``'s merges, when given);
        the merges keep running."""
        for merge in self._merges.values():
            if provider is None or provider in merge.windows.spec.providers:
                self._discard(merge)

    def _discard(self, merge: _Merge) -> None:
        windows = merge.windows.open_windows
        dropped = merge.windows.reset()
        if windows:
            self._telemetry.emit(
                "merge.windows_discarded", merge_key=merge.label, windows=windows, fragments=dropped
            )

    # -- hot path ----------------------------------------------------------------------

    def offer(self, event: Event) -> None:
        """See one stamped event (synchronous; most events belong to no merge)."""
        merge = self._by_class.get((event.__class__, event.symbol))
        if merge is None:
            return
        now = self._clock.time_ns()
        ts = event.ts_exchange
        if ts is not None:
            provider = event.provider
            skew = self._skew.get(provider)
            sample = now - ts
            # Integer moving average (1/16 weight): cheap, and steady under jitter.
            self._skew[provider] = sample if skew is None else skew + ((sample - skew) >> 4)
        out = merge.windows.offer(event, now)  # type: ignore[arg-type]
        if out:
            self._handle(merge, out)

    def tick(self, now_ns: int | None = None) -> None:
        """Close the windows whose time has passed (the gateway's clock tick)."""
        if not self._merges:
            return
        now = self._clock.time_ns() if now_ns is None else now_ns
        for merge in list(self._merges.values()):
            out = merge.windows.tick(now)
            if out:
                self._handle(merge, out)

    def _handle(self, merge: _Merge, out: Sequence[MergeOutput]) -> None:
        for item in out:
            if isinstance(item, ClosedWindow):
                if item.complete:
                    self._emit(merge, item)
                else:
                    self._suppressed(merge, item)
            elif isinstance(item, LateFragment):
                self._telemetry.emit(
                    "late_event.dropped",
                    provider=item.provider,
                    symbol=item.symbol,
                    seq_provider=item.seq_provider,
                    lateness_ms=item.lateness_ns // _MS,
                    merge_key=merge.label,
                )
                self._inc(
                    "tradegw_merge_late_dropped_total",
                    merge_key=merge.label,
                    provider=item.provider,
                )
            else:
                self._telemetry.emit(
                    "merge.fragment_rejected",
                    merge_key=merge.label,
                    provider=item.provider,
                    reason=item.reason,
                    ahead_ms=item.ahead_ns // _MS,
                )
                self._inc("tradegw_merge_rejected_total", merge_key=merge.label, reason=item.reason)

    def _emit(self, merge: _Merge, window: ClosedWindow) -> None:
        key = merge.key
        merge_id = f"{merge.label}/{merge.token}/{window.seq}"
        event = MergedEvent(
            event_id=make_event_id(merge.source, key.symbol, EventType.MERGED, merge_id),
            provider=merge.source,
            symbol=key.symbol,
            venue_symbol=key.symbol,
            seq_provider=window.seq,
            ts_exchange=window.open_ns,
            ts_ingest=self._clock.monotonic_ns(),
            routing_version=self._routing_version(),
            trace_id=merge_id,
            merge_id=merge_id,
            merge_type=key.type,
            window_open=window.open_ns,
            window_close=window.end_ns,
            fragments=window.fragments,
        )
        self.emitted += 1
        self._inc("tradegw_merge_windows_emitted_total", merge_key=merge.label)
        self._deliver(event)

    def _suppressed(self, merge: _Merge, window: ClosedWindow) -> None:
        self._telemetry.emit(
            "merge.suppressed_partial",
            merge_key=merge.label,
            missing_providers=",".join(window.missing),
            fragments=window.count,
            reason=window.reason.value,
        )
        self._inc("tradegw_merge_windows_suppressed_total", merge_key=merge.label)

    def _inc(self, name: str, **labels: str) -> None:
        if self._metrics is not None:
            self._metrics.inc(name, **labels)

    # -- metrics -----------------------------------------------------------------------

    def skew_ms(self, provider: str) -> float | None:
        """The measured skew of ``provider`` (gateway clock minus venue time), if any."""
        skew = self._skew.get(provider)
        return None if skew is None else skew / _MS

    def export(self) -> None:
        """Publish fragment counts, open windows and per-provider skew (about once a second)."""
        m = self._metrics
        if m is None:
            return
        for merge in self._merges.values():
            stats = merge.windows.stats
            delta = stats.fragments - merge.exported
            if delta > 0:
                m.inc("tradegw_merge_fragments_total", delta, merge_key=merge.label)
            merge.exported = stats.fragments
            m.set("tradegw_merge_open_windows", merge.windows.open_windows, merge_key=merge.label)
        for provider, skew in self._skew.items():
            m.set("tradegw_merge_clock_skew_ms", skew / _MS, provider=provider)

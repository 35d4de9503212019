"""Merge windows (design section 7), sans-I/O: examples and Hypothesis properties.

Time comes from a :class:`FakeClock`; event times are venue timestamps set per fragment.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradegw_core.clock import FakeClock
from tradegw_core.orchestrator.windows import (
    ClosedWindow,
    CloseReason,
    LateFragment,
    MergeOutput,
    MergeSpec,
    MergeWindows,
    RejectedFragment,
)
from tradegw_core.schema.events import EventType, Trade, make_event_id

MS = 1_000_000
PROVIDERS = ("binance", "coinbase", "kraken")


def frag(provider: str, ts_ns: int | None, n: int) -> Trade:
    return Trade(
        event_id=make_event_id(provider, "BTC-USDT", EventType.TRADE, n),
        provider=provider,
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=n,
        ts_exchange=ts_ns,
        trade_id=str(n),
        price=Decimal("100.5"),
        qty=Decimal("0.1"),
    )


def spec(window_ms: int = 1000, max_count: int = 100, providers: Any = PROVIDERS) -> MergeSpec:
    return MergeSpec("BTC-USDT", EventType.TRADE, tuple(providers), window_ms, max_count)


def closed(out: Any) -> list[ClosedWindow]:
    return [o for o in out if isinstance(o, ClosedWindow)]


def test_a_window_with_every_provider_is_complete_and_groups_by_provider_in_arrival_order() -> None:
    clock = FakeClock()
    t0 = clock.time_ns()
    w = MergeWindows(spec(), allowed_skew_ns=200 * MS)
    order = [("kraken", 10), ("binance", 20), ("kraken", 15), ("coinbase", 1009), ("binance", 11)]
    clock.advance(ns=1009 * MS)  # every fragment arrives by then
    for n, (provider, at_ms) in enumerate(order):
        assert w.offer(frag(provider, t0 + at_ms * MS, n), clock.time_ns()) == ()
    clock.advance(ns=200 * MS)
    assert w.tick(clock.time_ns()) == []  # the skew grace is not over yet
    clock.advance(ns=MS)
    [win] = closed(w.tick(clock.time_ns()))
    assert win.complete
    assert win.reason is CloseReason.TIME
    assert (win.open_ns, win.end_ns, win.seq) == (t0 + 10 * MS, t0 + 1010 * MS, 1)
    assert list(win.fragments) == list(PROVIDERS)
    assert [f.seq_provider for f in win.fragments["kraken"]] == [0, 2]
    assert [f.seq_provider for f in win.fragments["binance"]] == [1, 4]
    assert w.stats.emitted == 1
    assert w.open_windows == 0


def test_a_window_missing_a_provider_is_suppressed_even_with_no_fragment_arriving() -> None:
    clock = FakeClock()
    t0 = clock.time_ns()
    w = MergeWindows(spec(window_ms=100), allowed_skew_ns=0)
    clock.advance(0.05)
    w.offer(frag("binance", t0, 1), clock.time_ns())
    w.offer(frag("kraken", t0 + 50 * MS, 2), clock.time_ns())
    clock.advance(0.05)
    [win] = closed(w.tick(clock.time_ns()))
    assert not win.complete
    assert win.missing == ("coinbase",)
    assert w.stats.suppressed == 1


def test_count_close_and_the_next_window_opens_after_the_newest_fragment() -> None:
    clock = FakeClock()
    t0 = clock.time_ns()
    w = MergeWindows(spec(window_ms=1000, max_count=3), allowed_skew_ns=10 * MS)
    assert w.offer(frag("binance", t0, 1), t0) == ()
    assert w.offer(frag("coinbase", t0 + 5 * MS, 2), t0) == ()
    [win] = closed(w.offer(frag("kraken", t0 + 3 * MS, 3), t0))
    assert win.complete
    assert win.reason is CloseReason.COUNT
    assert win.count == 3
    assert win.end_ns == t0 + 5 * MS + 1
    # Inside the closed window's time: late. After its newest fragment: a new window.
    [late] = w.offer(frag("kraken", t0 + 4 * MS, 4), t0)
    assert isinstance(late, LateFragment)
    assert late.provider == "kraken"
    assert w.offer(frag("binance", t0 + 6 * MS, 5), t0) == ()
    assert w.open_windows == 1


def test_late_clock_ahead_and_duplicate_fragments_are_dropped() -> None:
    clock = FakeClock()
    t0 = clock.time_ns()
    w = MergeWindows(spec(window_ms=100), allowed_skew_ns=10 * MS)
    first = frag("binance", t0, 1)
    w.offer(first, t0)
    [dup] = w.offer(first, t0)
    assert isinstance(dup, RejectedFragment)
    assert dup.reason == "duplicate"
    [ahead] = w.offer(frag("kraken", t0 + 11 * MS, 2), t0)
    assert isinstance(ahead, RejectedFragment)
    assert ahead.reason == "clock_ahead"
    clock.advance(0.2)
    now = clock.time_ns()
    out = w.offer(frag("kraken", t0 + 50 * MS, 3), now)
    assert [type(o) for o in out] == [ClosedWindow, LateFragment]
    late = out[1]
    assert isinstance(late, LateFragment)
    assert late.lateness_ns == now - (t0 + 50 * MS)
    # Too old to open a window whose time has not already ended: late as well.
    [old] = w.offer(frag("coinbase", now - 500 * MS, 4), now)
    assert isinstance(old, LateFragment)
    assert (w.stats.late, w.stats.rejected, w.stats.fragments) == (2, 2, 1)


def test_fragments_of_other_providers_and_venues_without_timestamps() -> None:
    clock = FakeClock()
    now = clock.time_ns()
    w = MergeWindows(spec(window_ms=100, providers=("binance", "kraken")), allowed_skew_ns=0)
    assert w.offer(frag("coinbase", now, 1), now) == ()  # not part of this merge
    assert w.held == 0
    w.offer(frag("binance", None, 2), now)  # no venue time: timed by its arrival
    w.offer(frag("kraken", now, 3), now + 99 * MS)
    [win] = closed(w.tick(now + 100 * MS))
    assert win.complete
    assert win.open_ns == now


def test_reset_discards_in_flight_windows_and_eviction_bounds_them() -> None:
    now = FakeClock().time_ns()
    w = MergeWindows(spec(window_ms=10), allowed_skew_ns=60_000 * MS, max_open=2)
    w.offer(frag("binance", now - 100 * MS, 1), now)
    w.offer(frag("binance", now - 50 * MS, 2), now)
    [evicted] = closed(w.offer(frag("binance", now, 3), now))
    assert evicted.reason is CloseReason.EVICTED
    assert evicted.open_ns == now - 100 * MS
    assert w.open_windows == 2
    assert w.reset() == 2
    assert w.open_windows == 0
    assert w.stats.discarded == 2
    assert w.tick(now + 10**15) == []  # nothing replayed


def test_a_merge_needs_two_distinct_providers() -> None:
    with pytest.raises(ValueError, match="two distinct providers"):
        MergeWindows(spec(providers=("binance", "binance")), allowed_skew_ns=0)


# -- properties --------------------------------------------------------------------------

WINDOW_MS = 100
SKEW_MS = 30

_frag = st.tuples(
    st.just("frag"),
    st.sampled_from(PROVIDERS),
    st.integers(-WINDOW_MS - SKEW_MS, 2 * SKEW_MS),  # event time relative to now, ms
)
op = st.one_of(
    _frag,
    _frag,
    _frag,
    _frag,
    st.tuples(st.just("again"), st.integers(0, 1000)),  # re-offer an earlier fragment
    st.tuples(st.just("advance"), st.integers(0, WINDOW_MS // 2)),
    st.tuples(st.just("tick")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=10, max_size=150), max_count=st.integers(3, 12))
def test_window_semantics_hold_for_any_input(ops: list[Any], max_count: int) -> None:
    clock = FakeClock()
    skew = SKEW_MS * MS
    w = MergeWindows(spec(WINDOW_MS, max_count), allowed_skew_ns=skew, max_open=4)
    offered: list[Trade] = []
    dropped: set[int] = set()  # ids of the offers answered late / rejected
    outs: list[tuple[int, MergeOutput]] = []  # (now of the call, output)
    ends: list[int] = []  # ends of every window opened so far (the frontier of the model)

    def record(now: int, out: Any) -> None:
        outs.extend((now, o) for o in out)
        # State bounded after every call, and no window left overdue by any call.
        assert w.open_windows <= 4
        assert w.held <= 4 * max_count
        assert w.open_windows <= 2 + 2 * SKEW_MS // WINDOW_MS + 1
        assert w.tick(now) == []

    for n, item in enumerate(ops):
        now = clock.time_ns()
        if item[0] == "advance":
            clock.advance(ns=item[1] * MS)
            continue
        if item[0] == "tick" or (item[0] == "again" and not offered):
            record(now, w.tick(now))
            continue
        if item[0] == "again":  # a second copy of an earlier fragment (A/B connections)
            f = msgspec.structs.replace(offered[item[1] % len(offered)])
        else:
            f = frag(item[1], now + item[2] * MS, n)
        frontier = max(ends, default=None)
        offered.append(f)
        out = w.offer(f, now)
        for o in out:
            if isinstance(o, LateFragment | RejectedFragment):
                dropped.add(id(f))
            if isinstance(o, LateFragment):
                t = o.event_ns
                assert o.lateness_ns == now - t
                # Late only behind every window opened, or when its time is already over.
                assert (frontier is not None and t < frontier) or t + WINDOW_MS * MS + skew <= now
        ends.extend(win.end for win in w._open)
        record(now, out)
    end = clock.time_ns() + 10 * WINDOW_MS * MS
    outs.extend((end, o) for o in w.tick(end))

    windows = [(now, o) for now, o in outs if isinstance(o, ClosedWindow)]
    in_windows = [id(f) for _, win in windows for fs in win.fragments.values() for f in fs]
    # Every offer ends in exactly one place: no fragment in two windows, none lost, and a
    # late (or rejected) fragment is never in an emitted window.
    assert len(set(in_windows)) == len(in_windows)
    assert not set(in_windows) & dropped
    assert set(in_windows) | dropped == {id(f) for f in offered}
    assert w.stats.fragments == len(in_windows)
    assert w.stats.late + w.stats.rejected == len(dropped)
    spans = sorted((win.open_ns, win.end_ns) for _, win in windows)
    for (_, end_a), (open_b, _) in itertools.pairwise(spans):
        assert end_a <= open_b  # windows never overlap in event time
    assert [win.seq for _, win in windows] == list(range(1, len(windows) + 1))
    for now, win in windows:
        assert list(win.fragments) == list(PROVIDERS)
        # A window emits iff every provider contributed.
        contributed = {p for p, fs in win.fragments.items() if fs}
        assert win.complete == (contributed == set(PROVIDERS))
        assert set(win.missing) == set(PROVIDERS) - contributed
        assert win.count == sum(len(v) for v in win.fragments.values()) <= max_count
        for fs in win.fragments.values():
            for f in fs:
                assert f.ts_exchange is not None
                assert win.open_ns <= f.ts_exchange < win.end_ns
        if win.reason is CloseReason.COUNT:
            assert win.count == max_count  # count-close exactly at max_count
        elif win.reason is CloseReason.TIME:
            assert now >= win.end_ns + skew  # time-close never before end + skew
    assert w.stats.emitted == sum(1 for _, win in windows if win.complete)
    assert w.stats.suppressed == sum(1 for _, win in windows if not win.complete)

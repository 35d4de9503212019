"""The book stage's timing rules with explicit clock values (no event loop)."""

from __future__ import annotations

import random

import pytest

from tradegw_core.book.resync import Action, BookStageSettings, ResyncScheduler
from tradegw_core.contracts import ResyncReason

S = 1_000_000_000
GAP = ResyncReason.GAP


def scheduler(**settings: float | int | None) -> ResyncScheduler:
    return ResyncScheduler(BookStageSettings(**settings), rng=random.Random(3))  # type: ignore[arg-type]


def test_requests_are_coalesced_per_symbol() -> None:
    sched = scheduler()
    t = sched.add("BTC-USDT", 0, has_reconcile=False)
    assert sched.request(t, GAP, 0)
    assert not sched.request(t, ResyncReason.CHECKSUM, 0)
    actions, _ = sched.poll(0)
    assert actions == [Action("fetch", "BTC-USDT", GAP)]
    assert sched.poll(0)[0] == []  # in flight: nothing more
    # A request during the fetch leaves exactly one more for after it.
    assert sched.request(t, ResyncReason.RECONNECT, 1)
    assert not sched.request(t, ResyncReason.RECONNECT, 1)
    assert sched.poll(1)[0] == []


def test_fetches_across_symbols_are_paced_by_the_snapshot_budget() -> None:
    sched = scheduler(snapshot_rate_per_s=1.0, snapshot_burst=2, max_inflight=10)
    timers = [sched.add(f"S{i}-USD", 0, has_reconcile=False) for i in range(5)]
    for i, t in enumerate(timers):
        sched.request(t, ResyncReason.RECONNECT, i)  # requested in this order
    actions, wake = sched.poll(10)
    assert [a.symbol for a in actions] == ["S0-USD", "S1-USD"]
    assert wake == pytest.approx(10 + S, abs=100)
    assert sched.poll(10 + S // 2)[0] == []
    actions, wake = sched.poll(10 + S)
    assert [a.symbol for a in actions] == ["S2-USD"]
    assert wake == pytest.approx(10 + 2 * S, abs=100)


def test_max_inflight_holds_fetches_until_one_finishes() -> None:
    sched = scheduler(max_inflight=1, snapshot_burst=10)
    a = sched.add("A-USD", 0, has_reconcile=False)
    b = sched.add("B-USD", 0, has_reconcile=False)
    sched.request(a, GAP, 0)
    sched.request(b, GAP, 1)
    assert [x.symbol for x in sched.poll(2)[0]] == ["A-USD"]
    assert sched.poll(3) == ([], None)
    sched.synced(a, 4)
    sched.finished(a, 4, ok=True)
    assert [x.symbol for x in sched.poll(5)[0]] == ["B-USD"]


def test_failed_fetches_back_off_exponentially_and_honour_retry_after() -> None:
    sched = scheduler(backoff_base_s=1.0, backoff_cap_s=8.0, snapshot_burst=100, stale_after_s=None)
    t = sched.add("BTC-USDT", 0, has_reconcile=False)
    sched.request(t, GAP, 0)
    now = 0
    ceilings = []
    for attempt in range(5):
        actions, _ = sched.poll(now)
        assert actions == [Action("fetch", "BTC-USDT", GAP)]
        sched.finished(t, now, ok=False, reason=GAP)
        delay = t.not_before_ns - now
        ceilings.append(min(8.0, 2.0**attempt))
        assert 0 <= delay <= ceilings[-1] * S
        assert sched.poll(now) == ([], t.not_before_ns) or delay == 0
        now = t.not_before_ns
    sched.poll(now)
    sched.finished(t, now, ok=False, reason=GAP, retry_after_s=30.0)
    assert t.not_before_ns - now == 30 * S  # the venue's Retry-After beats the backoff
    # A snapshot that syncs the book forgets the failures.
    sched.synced(t, now)
    assert t.backoff.attempt == 0


def test_a_fetch_that_did_not_sync_delays_the_next_request() -> None:
    sched = scheduler(backoff_base_s=1.0, snapshot_burst=100)
    t = sched.add("BTC-USDT", 0, has_reconcile=False)
    sched.request(t, GAP, 0)
    sched.poll(0)
    sched.request(t, GAP, 5)  # e.g. the snapshot was older than the buffered diffs
    sched.finished(t, 10, ok=True)
    assert t.not_before_ns >= 10
    assert t.backoff.attempt == 1


def test_refresh_is_jittered_between_min_and_max_after_each_sync() -> None:
    sched = scheduler(refresh_min_s=120, refresh_max_s=300, stale_after_s=None)
    t = sched.add("BTC-USDT", 0, has_reconcile=True)
    due = []
    for _ in range(50):
        sched.synced(t, 0)
        assert t.next_refresh_ns is not None
        due.append(t.next_refresh_ns)
    assert all(120 * S <= d <= 300 * S for d in due)
    assert len(set(due)) > 40  # jittered, not fixed
    due_ns = t.next_refresh_ns
    assert due_ns is not None
    assert sched.poll(0) == ([], due_ns)
    actions, _ = sched.poll(due_ns)
    assert actions == [Action("reconcile", "BTC-USDT", ResyncReason.REFRESH)]
    sched.finished(t, t.last_activity_ns + 1, ok=True)
    assert t.next_refresh_ns is not None  # the next one is planned


def test_refresh_without_reconcile_asks_for_a_resync() -> None:
    sched = scheduler(refresh_min_s=1, refresh_max_s=2, stale_after_s=None)
    t = sched.add("BTC-USDT", 0, has_reconcile=False)
    sched.synced(t, 0)
    actions, _ = sched.poll(2 * S)
    assert actions == [Action("request", "BTC-USDT", ResyncReason.REFRESH)]


def test_a_failed_reconcile_is_retried_later_without_a_resync() -> None:
    sched = scheduler(refresh_min_s=1, refresh_max_s=2, stale_after_s=None, backoff_base_s=5)
    t = sched.add("BTC-USDT", 0, has_reconcile=True)
    sched.synced(t, 0)
    sched.poll(2 * S)
    sched.finished(t, 2 * S, ok=False)
    assert t.pending is None
    assert t.next_refresh_ns is not None
    assert 2 * S <= t.next_refresh_ns <= 7 * S


def test_staleness_triggers_once_nothing_happened_for_stale_after() -> None:
    sched = scheduler(stale_after_s=300, refresh_min_s=None)
    t = sched.add("BTC-USDT", 0, has_reconcile=False)
    sched.synced(t, 0)
    t.last_activity_ns = 100 * S  # the stage saw an update
    assert sched.poll(399 * S) == ([], 400 * S)
    assert sched.poll(400 * S)[0] == [Action("request", "BTC-USDT", ResyncReason.STALE)]
    # Not while a resync is pending or in flight.
    sched.request(t, ResyncReason.STALE, 400 * S)
    sched.poll(400 * S)
    assert sched.poll(10_000 * S) == ([], None)


def test_removed_symbols_free_their_fetch_slot() -> None:
    sched = scheduler(max_inflight=1)
    a = sched.add("A-USD", 0, has_reconcile=False)
    b = sched.add("B-USD", 0, has_reconcile=False)
    sched.request(a, GAP, 0)
    sched.request(b, GAP, 1)
    sched.poll(2)
    sched.remove("A-USD")
    assert [x.symbol for x in sched.poll(3)[0]] == ["B-USD"]


@pytest.mark.parametrize(
    "bad",
    [
        {"refresh_min_s": 0},
        {"refresh_min_s": 10, "refresh_max_s": 5},
        {"stale_after_s": 0},
        {"snapshot_rate_per_s": 0},
        {"max_inflight": 0},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        BookStageSettings(**bad)  # type: ignore[arg-type]

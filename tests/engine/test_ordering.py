"""The per-stream ordering buffer, sans-I/O: a fake clock value, no event loop."""

from __future__ import annotations

from tradegw_core.dispatcher.ordering import GapReport, OrderingBuffer, OrderingMode
from tradegw_core.schema.events import Event, EventType, StreamKey

from .conftest import snapshot, trade, update

MS = 1_000_000
KEY = StreamKey("fake", "BTC-USDT", EventType.TRADE)
BOOK = StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE)


class Harness:
    def __init__(self, mode: OrderingMode = OrderingMode.CONTIGUOUS, **kw: int) -> None:
        self.out: list[Event] = []
        self.gaps: list[GapReport] = []
        self.buf = OrderingBuffer(
            lambda _k, e: self.out.append(e),
            lateness_ns=150 * MS,
            default_mode=mode,
            on_gap=self.gaps.append,
            **kw,
        )

    def seqs(self) -> list[int | None]:
        return [e.seq_provider for e in self.out]


def test_in_order_events_are_delivered_at_once_without_a_tick() -> None:
    h = Harness()
    for seq in (1, 2, 3):
        h.buf.offer(KEY, trade(seq), now_ns=0)
        assert h.seqs()[-1] == seq  # delivered inside offer(), no flush needed
    assert h.buf.held(KEY) == 0


def test_out_of_order_input_is_emitted_in_seq_order() -> None:
    h = Harness()
    for seq in (1, 3, 4, 2, 5):
        h.buf.offer(KEY, trade(seq), now_ns=0)
    assert h.seqs() == [1, 2, 3, 4, 5]
    assert h.gaps == []
    assert h.buf.stats.held == 0


def test_a_gap_is_released_after_the_tolerance_and_reported() -> None:
    h = Harness()
    h.buf.offer(KEY, trade(1), now_ns=0)
    h.buf.offer(KEY, trade(4), now_ns=10 * MS)
    h.buf.offer(KEY, trade(5), now_ns=20 * MS)
    h.buf.flush(now_ns=100 * MS)  # a tick before the tolerance: still waiting
    assert h.seqs() == [1]
    assert h.buf.held(KEY) == 2
    h.buf.flush(now_ns=160 * MS)  # 150 ms after seq 4 arrived
    assert h.seqs() == [1, 4, 5]
    assert len(h.gaps) == 1
    gap = h.gaps[0]
    assert (gap.expected, gap.resumed_at, gap.missing) == (2, 4, 2)
    assert gap.reason == "lateness"
    assert gap.waited_ns == 150 * MS
    assert h.buf.stats.gaps == 1
    assert h.buf.stats.missing == 2
    # delivery resumes: the next seq goes through at once, the late ones are stale
    h.buf.offer(KEY, trade(6), now_ns=170 * MS)
    h.buf.offer(KEY, trade(2), now_ns=171 * MS)
    assert h.seqs() == [1, 4, 5, 6]
    assert h.buf.stats.stale_dropped == 1


def test_duplicates_and_stale_seqs_are_dropped_and_counted() -> None:
    h = Harness()
    for seq in (5, 6, 6, 4, 7, 5):
        h.buf.offer(KEY, trade(seq), now_ns=0)
    assert h.seqs() == [5, 6, 7]
    assert h.buf.stats.stale_dropped == 3


def test_monotonic_mode_never_holds_and_drops_what_goes_back() -> None:
    h = Harness(OrderingMode.MONOTONIC)
    for seq in (10, 15, 12, 40):
        h.buf.offer(KEY, trade(seq), now_ns=0)
    assert h.seqs() == [10, 15, 40]
    assert h.buf.stats.stale_dropped == 1
    assert h.gaps == []


def test_mode_is_declared_per_provider_and_type() -> None:
    h = Harness(OrderingMode.MONOTONIC)
    h.buf.set_mode("fake", EventType.TRADE, OrderingMode.CONTIGUOUS)
    assert h.buf.mode_of(KEY) is OrderingMode.CONTIGUOUS
    assert h.buf.mode_of(BOOK) is OrderingMode.MONOTONIC
    h.buf.offer(KEY, trade(1), now_ns=0)
    h.buf.offer(KEY, trade(3), now_ns=0)
    assert h.seqs() == [1]  # contiguous: 3 waits for 2


def test_events_without_seq_order_by_ts_ingest() -> None:
    h = Harness()
    for ts in (10, 20, 15, 30):
        h.buf.offer(KEY, trade(None, ts=ts), now_ns=ts)
    assert [e.ts_ingest for e in h.out] == [10, 20, 30]
    assert h.buf.stats.stale_dropped == 1


def test_book_updates_use_their_seq_range() -> None:
    h = Harness()
    h.buf.offer(BOOK, update(100, 103), now_ns=0)
    h.buf.offer(BOOK, update(108, 110), now_ns=0)  # gap 104..107
    h.buf.offer(BOOK, update(104, 107), now_ns=0)
    assert [e.seq_provider for e in h.out] == [103, 107, 110]


def test_a_snapshot_rebases_the_update_stream_of_its_symbol() -> None:
    h = Harness()
    snap_key = StreamKey("fake", "BTC-USDT", EventType.BOOK_SNAPSHOT)
    h.buf.offer(BOOK, update(100, 103), now_ns=0)
    # a resync: the snapshot is at 500; the first update after it overlaps it
    h.buf.offer(snap_key, snapshot(500), now_ns=0)
    h.buf.offer(BOOK, update(498, 505), now_ns=0)
    h.buf.offer(BOOK, update(400, 420), now_ns=0)  # older than the snapshot: stale
    assert [e.seq_provider for e in h.out] == [103, 500, 505]
    assert h.gaps == []


def test_a_full_heap_releases_the_oldest_gap_and_reports_overflow() -> None:
    h = Harness(max_held=2)
    h.buf.offer(KEY, trade(1), now_ns=0)
    for seq in (5, 6, 7):
        h.buf.offer(KEY, trade(seq), now_ns=0)
    assert h.seqs() == [1, 5, 6, 7]
    assert [g.reason for g in h.gaps] == ["overflow"]


def test_reset_and_shutdown_flush() -> None:
    h = Harness()
    h.buf.offer(KEY, trade(10), now_ns=0)
    h.buf.offer(KEY, trade(12), now_ns=0)
    h.buf.flush_all(now_ns=1)
    assert h.seqs() == [10, 12]
    assert h.gaps[-1].reason == "shutdown"
    h.buf.reset("fake")
    assert h.buf.last_seq(KEY) is None
    h.buf.offer(KEY, trade(1), now_ns=0)  # a restarted feed starts over
    assert h.seqs()[-1] == 1


def test_lateness_runs_from_when_the_gap_opened_not_from_the_heap_top() -> None:
    # 5 arrives right after 1 (at 0 ms): the gap 2..4 is open from then on. 3 fills part of
    # it at 100 ms, but that must not restart the clock for the rest of the gap.
    h = Harness()
    h.buf.offer(KEY, trade(1), now_ns=0)
    h.buf.offer(KEY, trade(5), now_ns=0)
    h.buf.offer(KEY, trade(3), now_ns=100 * MS)
    h.buf.flush(now_ns=100 * MS)
    assert h.seqs() == [1]
    h.buf.flush(now_ns=150 * MS)
    assert h.seqs() == [1, 3, 5]
    assert [(g.expected, g.resumed_at) for g in h.gaps] == [(2, 3), (4, 5)]
    assert all(g.waited_ns == 150 * MS for g in h.gaps)
    assert h.buf.held(KEY) == 0
    assert h.buf.pending_streams() == []


def test_a_gap_that_opens_later_gets_its_own_full_tolerance() -> None:
    h = Harness()
    h.buf.offer(KEY, trade(1), now_ns=0)
    h.buf.offer(KEY, trade(3), now_ns=0)  # gap at 2 opens at 0 ms
    h.buf.offer(KEY, trade(2), now_ns=120 * MS)  # filled: 2, 3 go out
    h.buf.offer(KEY, trade(5), now_ns=140 * MS)  # a new gap at 4 opens at 140 ms
    h.buf.flush(now_ns=150 * MS)
    assert h.seqs() == [1, 2, 3]
    h.buf.flush(now_ns=289 * MS)
    assert h.seqs() == [1, 2, 3]
    h.buf.flush(now_ns=290 * MS)
    assert h.seqs() == [1, 2, 3, 5]
    assert [(g.expected, g.resumed_at) for g in h.gaps] == [(4, 5)]

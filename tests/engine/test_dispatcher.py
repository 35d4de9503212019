"""Dedup window, routing table versions, and the dispatcher end to end (synchronously)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher import DedupWindow, Dispatcher, OrderingMode, RoutingTable
from tradegw_core.errors import ControlError
from tradegw_core.schema.events import Event, EventType, StreamKey

from .conftest import exec_report, snapshot, trade, update

KEY = StreamKey("fake", "BTC-USDT", EventType.TRADE)
ETH = StreamKey("fake", "ETH-USDT", EventType.TRADE)


def drain(dispatcher: Dispatcher, consumer: str) -> list[Event]:
    lane = dispatcher.lane(consumer)
    out = []
    while (item := lane.pop_nowait()) is not None:
        out.append(item)
    return out


def test_dedup_window_is_bounded_and_counts() -> None:
    window = DedupWindow(size=2)
    seen = [window.first_seen(i) for i in ("a", "b", "a", "c", "b", "d", "e")]
    assert seen == [True, True, False, True, False, True, True]
    assert window.duplicates == 2
    # "a" and "b" filled the first generation; "c", "d" the second; "e" retired the first.
    assert window.evicted == 2
    assert len(window) == 3
    assert "a" not in window  # forgotten: the window is bounded
    assert window.first_seen("a")
    assert "e" in window  # the last `size` ids are always remembered
    assert "a" in window
    with pytest.raises(ValueError, match="dedup window"):
        DedupWindow(0)


@given(st.lists(st.integers(0, 30), max_size=200), st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_dedup_window_never_forgets_the_last_size_ids(ids: list[int], size: int) -> None:
    window = DedupWindow(size=size)
    firsts: list[str] = []  # ids in the order they were first seen (copies do not refresh)
    for ident in map(str, ids):
        if window.first_seen(ident):
            firsts.append(ident)
        assert all(r in window for r in firsts[-size:])
        assert len(window) <= 2 * size


def test_subscribing_twice_is_idempotent_and_keeps_the_version() -> None:
    table = RoutingTable()
    first = table.add("c1", [KEY, ETH])
    assert first.first == [KEY, ETH]
    assert table.version == 2
    again = table.add("c1", [KEY])
    assert again.changed == []
    assert table.version == 2
    second = table.add("c2", [KEY])
    assert second.first == []  # the stream had a consumer already
    assert table.version == 3
    assert table.consumers(KEY) == ("c1", "c2")
    assert table.streams_of("c1") == [KEY, ETH]
    gone = table.remove("c1", [KEY, KEY])
    assert gone.last == []  # c2 still wants it
    assert table.version == 4
    assert table.remove("c1", [KEY]).changed == []
    assert table.version == 4
    assert table.remove_consumer("c2").last == [KEY]
    assert table.streams() == [ETH]
    assert table.remove("nobody", [KEY]).changed == []


def test_one_copy_per_consumer_and_routing_version_on_events() -> None:
    d = Dispatcher(clock=FakeClock())
    d.add_consumer("c1")
    d.add_consumer("c2")
    d.subscribe("c1", [KEY])
    d.subscribe("c1", [KEY])
    d.subscribe("c2", [KEY])
    for seq in (1, 2, 2):
        d.dispatch(trade(seq))
    assert [e.seq_provider for e in drain(d, "c1")] == [1, 2]
    assert [e.seq_provider for e in drain(d, "c2")] == [1, 2]
    assert d.stats.duplicates == 1
    d.dispatch(trade(3, symbol="ETH-USDT"))
    assert d.stats.unrouted == 1
    with pytest.raises(ControlError, match="unknown consumer"):
        d.subscribe("ghost", [KEY])
    with pytest.raises(ControlError, match="already registered"):
        d.add_consumer("c1")


def test_unsubscribing_the_last_consumer_forgets_the_stream_order() -> None:
    d = Dispatcher(clock=FakeClock(), default_mode=OrderingMode.CONTIGUOUS)
    d.add_consumer("c1")
    d.subscribe("c1", [KEY])
    d.dispatch(trade(1))
    d.dispatch(trade(5))  # held: waiting for 2..4
    assert d.ordering.held(KEY) == 1
    d.unsubscribe("c1", [KEY])
    assert d.ordering.held(KEY) == 0
    assert d.ordering.last_seq(KEY) is None


def test_gap_release_on_the_tick_reports_telemetry(fake_clock_ns: FakeClock) -> None:
    events: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def emit(self, name: str, /, **labels: object) -> None:
            events.append((name, labels))

    d = Dispatcher(clock=fake_clock_ns, telemetry=Recorder(), default_mode=OrderingMode.CONTIGUOUS)
    d.add_consumer("c1")
    d.subscribe("c1", [KEY])
    d.dispatch(trade(1))
    d.dispatch(trade(3))  # ts_ingest 0: arrival time comes from the clock
    d.flush()
    assert [e.seq_provider for e in drain(d, "c1")] == [1]
    fake_clock_ns.advance(0.15)
    d.flush()
    assert [e.seq_provider for e in drain(d, "c1")] == [3]
    assert events == [
        (
            "ordering.gap",
            {
                "provider": "fake",
                "symbol": "BTC-USDT",
                "type": "Trade",
                "expected": 2,
                "resumed_at": 3,
                "missing": 1,
                "reason": "lateness",
            },
        )
    ]


@pytest.fixture
def fake_clock_ns() -> FakeClock:
    return FakeClock()


def test_exec_reports_go_to_their_owner_only() -> None:
    d = Dispatcher(clock=FakeClock())
    d.add_consumer("rec")
    d.add_consumer("other")
    assert d.route_exec_report_nowait(exec_report(1, consumer="rec"))
    d.deliver_exec("rec", exec_report(2, consumer="rec"))
    assert d.route_exec_report_nowait(exec_report(3, consumer="nobody"))
    assert [r.client_order_id for r in drain(d, "rec")] == ["o1", "o2"]
    assert drain(d, "other") == []
    assert d.stats.exec_unrouted == 1


@st.composite
def ab_feeds(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    """Two copies (A and B) of seqs 1..n, interleaved in any way that keeps each copy's own
    order; each copy may also miss some seqs as long as the other has them. Seq 1 is in
    both: a stream's first event sets its baseline (nothing says an earlier seq exists)."""
    n = draw(st.integers(min_value=1, max_value=40))
    seqs = list(range(1, n + 1))
    lossy = draw(st.booleans())
    lost_in_a = draw(st.sets(st.sampled_from(seqs[1:]))) if lossy and n > 1 else set()
    lost_in_b = (
        draw(st.sets(st.sampled_from(seqs[1:])).map(lambda s: s - lost_in_a))
        if lossy and n > 1
        else set()
    )
    a = [("A", s) for s in seqs if s not in lost_in_a]
    b = [("B", s) for s in seqs if s not in lost_in_b]
    picks = draw(st.lists(st.booleans(), min_size=len(a) + len(b), max_size=len(a) + len(b)))
    merged: list[tuple[str, int]] = []
    ia = ib = 0
    for take_a in picks:
        if (take_a and ia < len(a)) or ib >= len(b):
            merged.append(a[ia])
            ia += 1
        else:
            merged.append(b[ib])
            ib += 1
    return n, merged


@settings(max_examples=300, deadline=None)
@given(ab_feeds(), st.integers(min_value=1, max_value=3))
def test_ab_feeds_every_consumer_sees_each_seq_once_in_order(
    feeds: tuple[int, list[tuple[str, int]]], consumers: int
) -> None:
    n, merged = feeds
    clock = FakeClock()
    d = Dispatcher(clock=clock, default_mode=OrderingMode.CONTIGUOUS)
    names = [f"c{i}" for i in range(consumers)]
    for name in names:
        d.add_consumer(name)
        d.subscribe(name, [KEY])
    for _copy, seq in merged:
        clock.advance(ns=1_000)  # both copies arrive well inside the tolerance
        d.dispatch(trade(seq))
        d.flush()
    for name in names:
        assert [e.seq_provider for e in drain(d, name)] == list(range(1, n + 1))


def test_removing_a_consumer_closes_its_lane_and_routes() -> None:
    d = Dispatcher(clock=FakeClock())
    lane = d.add_consumer("c1")
    d.subscribe("c1", [KEY])
    change = d.remove_consumer("c1")
    assert change.last == [KEY]
    assert lane.closed
    assert not d.has_consumer("c1")
    d.dispatch(trade(1))
    assert d.stats.unrouted == 1


@pytest.mark.anyio
async def test_deliver_exec_report_waits_for_room() -> None:
    import anyio

    d = Dispatcher(clock=FakeClock(), exec_lane_size=1)
    lane = d.add_consumer("rec")
    await d.deliver_exec_report(exec_report(1))
    await d.deliver_exec_report(exec_report(9, consumer="nobody"))  # counted, not lost silently
    assert d.stats.exec_unrouted == 1
    with anyio.fail_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(d.deliver_exec_report, exec_report(2))
            await anyio.wait_all_tasks_blocked()
            first = lane.pop_nowait()
        second = lane.pop_nowait()
    assert [first.client_order_id, second.client_order_id] == ["o1", "o2"]  # type: ignore[union-attr]


def test_metrics_export_publishes_drops_depths_and_held_streams() -> None:
    from tradegw_core.bus.data import OverflowPolicy
    from tradegw_core.dispatcher.metrics import DispatcherMetrics
    from tradegw_core.observability.metrics import Metrics

    metrics = Metrics()
    d = Dispatcher(
        clock=FakeClock(),
        lane_size=2,
        backlog_size=1,
        overflow=OverflowPolicy.DROP_NEWEST,
        default_mode=OrderingMode.CONTIGUOUS,
    )
    d.add_consumer("c1")
    d.subscribe("c1", [KEY])
    exporter = DispatcherMetrics(d, metrics)
    for seq in (1, 2, 3, 4, 6):  # 1, 2 queued; 3 waits in the backlog; 4 finds it full
        d.dispatch(trade(seq))
    exporter.export()
    exporter.export()  # counters move by deltas: exporting twice counts nothing twice
    dropped = metrics.value(
        "tradegw_dispatcher_lane_dropped_total", consumer="c1", policy="drop_newest"
    )
    assert dropped == 1
    assert metrics.value("tradegw_dispatcher_lane_depth", consumer="c1") == 2
    held = {"provider": "fake", "symbol": "BTC-USDT", "type": "Trade"}
    assert metrics.value("tradegw_dispatcher_stream_held", **held) == 1
    drain(d, "c1")
    d.flush()
    d.dispatch(trade(5))  # fills the gap: nothing held any more
    exporter.export()
    assert [e.seq_provider for e in drain(d, "c1")] == [3, 5]
    d.flush()
    assert [e.seq_provider for e in drain(d, "c1")] == [6]
    assert metrics.value("tradegw_dispatcher_stream_held", **held) == 0
    assert metrics.value("tradegw_dispatcher_received_total") == 6


def test_every_resync_snapshot_reaches_consumers_even_at_the_same_seq() -> None:
    d = Dispatcher(clock=FakeClock())
    d.add_consumer("c")
    keys = [
        StreamKey("fake", "BTC-USDT", EventType.BOOK_SNAPSHOT),
        StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE),
    ]
    d.subscribe("c", keys)
    d.dispatch(snapshot(10))
    d.dispatch(update(11, 11))
    d.dispatch(update(11, 11))  # an A/B copy: dropped
    d.dispatch(snapshot(11))  # a resync while the venue did not move: same event_id
    got = drain(d, "c")
    assert [(type(e).__name__, e.seq_provider) for e in got] == [
        ("BookSnapshot", 10),
        ("BookUpdate", 11),
        ("BookSnapshot", 11),
    ]
    assert d.stats.duplicates == 1

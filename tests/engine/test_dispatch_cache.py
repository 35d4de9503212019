"""The dispatcher's per-stream cache never outlives a routing or ordering change.

The hot path keeps each stream's lanes and ordering state between events; these tests
change routes and ordering state *after* events flowed and check that what follows is
routed, ordered and counted exactly as on a fresh dispatcher.
"""

from __future__ import annotations

from tradegw_core.bus.data import Lane, OverflowPolicy
from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher import Dispatcher, OrderingBuffer, OrderingMode
from tradegw_core.schema.events import Event, EventType, StreamKey

from .conftest import snapshot, trade, update

KEY = StreamKey("fake", "BTC-USDT", EventType.TRADE)
BOOK = StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE)


def seqs(lane: Lane) -> list[int | None]:
    out: list[int | None] = []
    while (item := lane.pop_nowait()) is not None:
        out.append(item.seq_provider)
    return out


def test_a_consumer_subscribing_mid_stream_gets_what_follows_and_leaving_stops_it() -> None:
    d = Dispatcher(clock=FakeClock())
    a, b = d.add_consumer("a"), d.add_consumer("b")
    d.subscribe("a", [KEY])
    d.dispatch(trade(1))
    d.subscribe("b", [KEY])
    d.dispatch(trade(2))
    d.unsubscribe("a", [KEY])
    d.dispatch(trade(3))
    assert seqs(a) == [1, 2]
    assert seqs(b) == [2, 3]
    d.remove_consumer("b")
    d.dispatch(trade(4))
    assert d.stats.unrouted == 1
    assert seqs(b) == []


def test_a_stream_left_by_its_last_consumer_restarts_its_order_when_routed_again() -> None:
    d = Dispatcher(clock=FakeClock())
    lane = d.add_consumer("a")
    d.subscribe("a", [KEY])
    d.dispatch(trade(10))
    d.unsubscribe("a", [KEY])
    d.dispatch(trade(11))  # nobody listens: not seen by ordering or dedup
    d.subscribe("a", [KEY])
    d.dispatch(trade(5))  # a fresh stream: its first event is delivered
    d.dispatch(trade(4))  # stale after 5
    assert seqs(lane) == [10, 5]
    assert d.ordering.stats.stale_dropped == 1
    assert d.stats.unrouted == 1


def test_reset_ordering_after_events_flowed_lets_restarted_seqs_through() -> None:
    d = Dispatcher(clock=FakeClock())
    lane = d.add_consumer("a")
    d.subscribe("a", [KEY])
    for seq in (100, 101):
        d.dispatch(trade(seq, ts=seq))
    d.reset_ordering("fake")
    d.dispatch(trade(1, ts=200))  # the venue restarted its seqs
    d.dispatch(trade(2, ts=201))
    assert seqs(lane) == [100, 101, 1, 2]
    assert d.ordering.stats.stale_dropped == 0


def test_a_mode_declared_after_events_flowed_applies_to_the_cached_stream() -> None:
    d = Dispatcher(clock=FakeClock())
    lane = d.add_consumer("a")
    d.subscribe("a", [KEY])
    d.dispatch(trade(1))
    d.set_ordering_mode("fake", EventType.TRADE, OrderingMode.CONTIGUOUS)
    d.dispatch(trade(3))  # now held: 2 is missing
    assert seqs(lane) == [1]
    d.dispatch(trade(2))
    assert seqs(lane) == [2, 3]


def test_snapshots_of_unrouted_streams_still_rebase_the_updates() -> None:
    d = Dispatcher(clock=FakeClock(), default_mode=OrderingMode.CONTIGUOUS)
    lane = d.add_consumer("a")
    d.subscribe("a", [BOOK])
    d.dispatch(update(1, 1))
    d.dispatch(snapshot(50))  # nobody takes snapshots: counted, but updates re-base on 50
    d.dispatch(update(51, 52))
    assert seqs(lane) == [1, 52]
    assert d.stats.unrouted == 1
    assert d.ordering.held(BOOK) == 0


def test_every_lane_of_a_stream_gets_the_event_even_when_one_is_full() -> None:
    recorded: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def emit(self, name: str, /, **labels: object) -> None:
            recorded.append((name, labels))

    d = Dispatcher(
        clock=FakeClock(), telemetry=Recorder(), lane_size=1, overflow=OverflowPolicy.DROP_NEWEST
    )
    full, roomy = d.add_consumer("full"), d.add_consumer("roomy")
    d.subscribe("full", [KEY])
    d.subscribe("roomy", [KEY])
    d.dispatch(trade(1))
    assert seqs(roomy) == [1]
    d.dispatch(trade(2))  # "full" still holds 1: 2 waits in its stream's backlog
    assert seqs(roomy) == [2]
    assert seqs(full) == [1]
    d.flush()
    assert seqs(full) == [2]  # nothing was dropped
    assert full.stats.dropped == 0
    assert recorded == [
        (
            "backpressure.triggered",
            {
                "consumer": "full",
                "provider": "fake",
                "symbol": "BTC-USDT",
                "type": "Trade",
                "reason": "lane_full",
            },
        )
    ]


def test_lane_enqueued_counts_every_accepted_event_whatever_leaves_the_lane() -> None:
    lane = Lane("c", size=2, overflow=OverflowPolicy.DROP_OLDEST)
    for seq in (1, 2, 3):
        assert lane.put_nowait(trade(seq))
    assert lane.pop_nowait() is not None
    assert lane.stats.enqueued == 3  # 1 evicted, 1 delivered, 1 still queued
    refusing = Lane("d", size=1, overflow=OverflowPolicy.DROP_NEWEST)
    refusing.put_nowait(trade(1))
    assert not refusing.put_nowait(trade(2))
    assert refusing.stats.enqueued == 1


def test_accept_on_a_stream_handle_matches_offer() -> None:
    delivered: list[int | None] = []

    def deliver(key: StreamKey, event: Event) -> None:
        delivered.append(event.seq_provider)

    buf = OrderingBuffer(deliver, default_mode=OrderingMode.CONTIGUOUS)
    stream = buf.stream(KEY)
    assert buf.stream(KEY) is stream
    assert buf.accept(stream, trade(1), 0)  # in order, nothing held: the caller delivers
    assert not buf.accept(stream, trade(3), 0)  # held behind the gap
    assert not buf.accept(stream, trade(2), 0)  # fills it: the buffer delivers 2 and 3
    assert not buf.accept(stream, trade(2), 0)  # stale
    assert delivered == [2, 3]
    assert buf.stats.delivered == 3
    assert buf.stats.stale_dropped == 1
    untimed = buf.stream(StreamKey("fake", "ETH-USDT", EventType.TRADE))
    assert buf.accept(untimed, trade(None, symbol="ETH-USDT", ts=5), 5)
    assert not buf.accept(untimed, trade(None, symbol="ETH-USDT", ts=4), 5)

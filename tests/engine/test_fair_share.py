"""Fair share (design section 9), sans-I/O: token buckets, latest-wins coalescing that keeps
books whole, queued trades with a counted DLQ, per-consumer book resyncs. Time is a plain
ns value (the fake clock's), so every budget is exact."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.bus.data import Lane
from tradegw_core.bus.gate import StreamGate
from tradegw_core.consumer.book import apply_book_event
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    Level,
    StreamKey,
    Ticker,
)
from tradegw_core.testing.recorders import TelemetryRecorder

from .conftest import trade

BOOK = StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE)
TICK = StreamKey("fake", "BTC-USDT", EventType.TICKER)
MS = 1_000_000
S = 1_000_000_000


def book_update(seq: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> BookUpdate:
    return BookUpdate(
        event_id=f"fake:BTC-USDT:BookUpdate:{seq}",
        provider="fake",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=seq,
        first_seq=seq,
        last_seq=seq,
        prev_seq=seq - 1,
        bids=tuple(Level(Decimal(100 - p), Decimal(q)) for p, q in bids),
        asks=tuple(Level(Decimal(101 + p), Decimal(q)) for p, q in asks),
    )


def book_snapshot(book: OrderBook, seq: int) -> BookSnapshot:
    return BookSnapshot(
        event_id=f"fake:BTC-USDT:BookSnapshot:{seq}",
        provider="fake",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=seq,
        bids=tuple(Level(p, q) for p, q in book.bids.items()),
        asks=tuple(Level(p, q) for p, q in book.asks.items()),
    )


def ticker(n: int) -> Ticker:
    return Ticker(
        event_id=f"fake:BTC-USDT:Ticker:{n}",
        provider="fake",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        seq_provider=n,
        last_price=Decimal(n),
    )


def sides(book: OrderBook) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return book.bids, book.asks


class ConsumerBook:
    """What a strategy does with its book events, checking continuity as it goes."""

    def __init__(self) -> None:
        self.book = OrderBook()
        self.seq: int | None = None
        self.tickers: list[int | None] = []
        self.trades: list[int | None] = []

    def take(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, BookSnapshot):
                apply_book_event(self.book, event)
                self.seq = event.seq_provider
            elif isinstance(event, BookUpdate):
                assert self.seq is not None, "an update before any snapshot"
                assert event.prev_seq == self.seq, (event.prev_seq, self.seq)
                assert event.first_seq == self.seq + 1
                apply_book_event(self.book, event)
                self.seq = event.last_seq
            elif isinstance(event, Ticker):
                self.tickers.append(event.seq_provider)
            else:
                self.trades.append(event.seq_provider)


def test_the_bucket_gives_the_burst_then_the_rate_exactly() -> None:
    gate = StreamGate(TICK, rate=1000, burst=100)
    assert sum(gate.take(0) for _ in range(150)) == 100  # the burst, at once
    assert sum(gate.take(10 * MS) for _ in range(50)) == 10  # 10 ms at 1000/s
    assert sum(gate.take(10 * MS) for _ in range(50)) == 0
    assert sum(gate.take(10 * S) for _ in range(500)) == 100  # refills to the burst, no more
    unlimited = StreamGate(TICK, rate=0, burst=1)
    assert all(unlimited.take(0) for _ in range(10_000))


def test_a_full_lane_merges_book_updates_instead_of_dropping_them() -> None:
    # The reproduction: a lane of 4 that receives 100 BookUpdates.
    lane = Lane("c1", size=4, rate=0)
    gate = lane.gate(BOOK)
    venue = OrderBook()
    lane.offer_snapshot(gate, book_snapshot(venue, 0), 0)
    for seq in range(1, 101):
        update = book_update(seq, [(seq % 7, seq)], [(seq % 5, 0 if seq % 3 else seq)])
        apply_book_event(venue, update)
        lane.offer(gate, update, seq * MS)
    consumer = ConsumerBook()
    consumer.take(lane.take(100))
    assert lane.depth == 0
    lane.flush(200 * MS)
    merged = lane.take(100)
    assert len(merged) == 1  # updates 4..100 arrive as one merged update
    consumer.take(merged)
    assert sides(consumer.book) == sides(venue)
    assert consumer.seq == 100
    assert gate.coalesced == 96
    assert lane.stats.dead_lettered == 0


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("update"),
            st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=4),
            st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=4),
        ),
        st.tuples(st.just("ticker")),
        st.tuples(st.just("snapshot")),
        st.tuples(st.just("advance"), st.integers(0, 120)),
        st.tuples(st.just("consume"), st.integers(0, 5)),
        st.tuples(st.just("flush")),
    ),
    max_size=80,
)


@given(OPS, st.integers(1, 4), st.sampled_from([0, 20, 200]), st.integers(1, 3))
@settings(max_examples=300, deadline=None)
def test_coalesced_delivery_keeps_the_book_whole_and_the_latest_ticker(
    ops: list[tuple[object, ...]], size: int, rate: int, burst: int
) -> None:
    """Any updates, any lane stalls, any token exhaustion: the consumer's book equals the
    book after every original update, and the last Ticker it gets is the latest one."""
    venue = OrderBook()
    seq = 0

    def books(key: StreamKey) -> Event | None:
        return book_snapshot(venue, seq)

    lane = Lane("c1", size=size, rate=rate, burst=burst, books=books)
    book_gate, ticker_gate = lane.gate(BOOK), lane.gate(TICK)
    consumer = ConsumerBook()
    now = 0
    lane.offer_snapshot(book_gate, book_snapshot(venue, 0), now)
    tickers = 0
    for op in ops:
        if op[0] == "update":
            seq += 1
            update = book_update(seq, op[1], op[2])  # type: ignore[arg-type]
            apply_book_event(venue, update)
            lane.offer(book_gate, update, now)
        elif op[0] == "ticker":
            tickers += 1
            lane.offer(ticker_gate, ticker(tickers), now)
        elif op[0] == "snapshot":  # the venue resynced: a fresh snapshot of the same book
            lane.offer_snapshot(book_gate, book_snapshot(venue, seq), now)
        elif op[0] == "advance":
            now += op[1] * MS  # type: ignore[operator]
        elif op[0] == "consume":
            consumer.take(lane.take(op[1]))  # type: ignore[arg-type]
        else:
            lane.flush(now)
    for _ in range(1_000):  # the strategy catches up; the flush tick keeps running
        now += 50 * MS
        lane.flush(now)
        consumer.take(lane.take(size))
        if book_gate.idle and ticker_gate.idle and lane.depth == 0:
            break
    assert sides(consumer.book) == sides(venue)
    assert consumer.seq == seq
    if tickers:
        assert consumer.tickers[-1] == tickers
        assert consumer.tickers == sorted(consumer.tickers)


def test_a_trade_burst_beyond_the_budget_is_delivered_or_dead_lettered_never_lost() -> None:
    lane = Lane("c1", size=10_000, rate=1000, burst=100, backlog_size=1000)
    gate = lane.gate(StreamKey("fake", "BTC-USDT", EventType.TRADE))
    for seq in range(1, 10_001):
        lane.offer(gate, trade(seq), 0)
    consumer = ConsumerBook()
    now = 0
    while not gate.idle:
        consumer.take(lane.take(10_000))
        now += 50 * MS
        lane.flush(now)
    consumer.take(lane.take(10_000))
    dead = [e.seq_provider for _, e in lane.dlq.items()]
    assert len(consumer.trades) == 1100  # the burst, then the backlog at 1000/s
    assert consumer.trades == sorted(consumer.trades)
    assert len(dead) == gate.dead_lettered == lane.stats.dead_lettered == 8900
    assert sorted(consumer.trades + dead) == list(range(1, 10_001))
    assert 1.0 <= now / S <= 1.1  # the backlog drained at the budget's rate


def test_a_snapshot_the_lane_cannot_take_becomes_a_fresh_one_when_there_is_room() -> None:
    venue = OrderBook()
    venue.set_bid(Decimal(99), Decimal(1))
    venue.set_ask(Decimal(101), Decimal(2))
    made: list[int] = []

    def books(key: StreamKey) -> Event | None:
        made.append(1)
        return book_snapshot(venue, 7)

    lane = Lane("c1", size=1, rate=0, books=books)
    gate = lane.gate(BOOK)
    lane.offer(lane.gate(TICK), ticker(1), 0)  # fills the lane
    lane.offer_snapshot(gate, book_snapshot(venue, 5), 0)
    assert gate.resync
    lane.offer(gate, book_update(6, [(0, 5)], []), 0)  # dropped: the fresh snapshot has it
    apply_book_event(venue, book_update(6, [(0, 5)], []))
    assert gate.coalesced == 1
    consumer = ConsumerBook()
    consumer.take(lane.take(10))
    lane.flush(50 * MS)
    consumer.take(lane.take(10))
    assert made == [1]
    assert sides(consumer.book) == sides(venue)
    assert consumer.seq == 7
    assert gate.idle


def test_telemetry_tells_each_stream_at_most_once_a_second_with_the_counts() -> None:
    telemetry = TelemetryRecorder()
    lane = Lane("c1", size=1, rate=0, telemetry=telemetry)
    gate = lane.gate(TICK)
    now = 0
    for second in range(3):
        for _ in range(10):  # 10 ticks of 100 ms: each fills the lane, then merges 3
            for n in range(4):
                lane.offer(gate, ticker(n), now)
            lane.take(1)
            lane.flush(now)
            lane.take(1)
            now += 100 * MS
        assert len(telemetry.named("backpressure.triggered")) == second + 1
    told = telemetry.named("coalescing.applied")
    assert len(told) == 3
    # Every merged original is told, once: 30 merged events of 3 (the last ones not yet).
    assert sum(int(t["merged"]) for t in told) + gate.merged_untold == 30 * 3
    assert gate.coalesced == 3 * 10 * 2  # 3 held per tick, 2 of them merged away

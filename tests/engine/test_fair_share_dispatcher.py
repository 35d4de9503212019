"""Fair share through the dispatcher: budgets per consumer, late joiners resynced from the
assembled book (only them), exported counts, and consumers served independently."""

from __future__ import annotations

from decimal import Decimal

from tradegw_core.bus.gate import StreamGate
from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher import Budget, Dispatcher
from tradegw_core.dispatcher.metrics import DispatcherMetrics
from tradegw_core.observability.metrics import Metrics
from tradegw_core.schema.events import BookSnapshot, Event, EventType, Level, StreamKey
from tradegw_core.testing.recorders import TelemetryRecorder

from .conftest import exec_report, trade
from .test_fair_share import book_update

SNAP = StreamKey("fake", "BTC-USDT", EventType.BOOK_SNAPSHOT)
UPD = StreamKey("fake", "BTC-USDT", EventType.BOOK_UPDATE)
TRADES = StreamKey("fake", "BTC-USDT", EventType.TRADE)
MS = 1_000_000


def drain(d: Dispatcher, consumer: str) -> list[Event]:
    return d.lane(consumer).take(1_000_000)


def test_a_late_joiner_gets_a_snapshot_of_the_assembled_book_and_only_it() -> None:
    clock = FakeClock()
    d = Dispatcher(clock=clock, budget=Budget(rate=0))
    assembled: dict[Decimal, Decimal] = {}
    asked: list[tuple[str, str, int | None]] = []

    class Books:
        def serves(self, provider: str, symbol: str) -> bool:
            return provider == "fake"

        def __call__(self, provider: str, symbol: str, seq: int | None) -> BookSnapshot | None:
            asked.append((provider, symbol, seq))
            return BookSnapshot(
                event_id=f"assembled:{seq}",
                provider=provider,
                symbol=symbol,
                venue_symbol="BTCUSDT",
                seq_provider=seq,
                bids=tuple(Level(p, q) for p, q in assembled.items()),
            )

    d.books = Books()
    for name in ("early", "late"):
        d.add_consumer(name)
    first = d.subscribe("early", [SNAP, UPD])
    assert first.first == [SNAP, UPD]  # the venue is asked for the first consumer only
    assert asked == []
    d.dispatch(
        BookSnapshot(
            event_id="s",
            provider="fake",
            symbol="BTC-USDT",
            venue_symbol="BTCUSDT",
            seq_provider=10,
        )
    )
    for seq in (11, 12):  # bids at 100 - (seq - 10): 99, 98
        assembled[Decimal(110 - seq)] = Decimal(1)
        d.dispatch(book_update(seq, [(seq - 10, 1)], []))
    later = d.subscribe("late", [SNAP, UPD])
    assert later.first == []
    assembled[Decimal(97)] = Decimal(1)
    d.dispatch(book_update(13, [(3, 1)], []))
    early, late = drain(d, "early"), drain(d, "late")
    assert [type(e).__name__ for e in early] == ["BookSnapshot"] + ["BookUpdate"] * 3
    assert asked == [("fake", "BTC-USDT", 12)]  # the last update delivered: the snapshot's seq
    assert [type(e).__name__ for e in late] == ["BookSnapshot", "BookUpdate"]
    assert late[0].seq_provider == 12
    assert late[0].bids == (Level(Decimal(99), Decimal(1)), Level(Decimal(98), Decimal(1)))
    assert late[1].prev_seq == 12  # the updates after it follow on


def test_a_burst_of_10000_trades_at_1000_per_s_is_delivered_or_in_the_dlq_and_exported() -> None:
    clock = FakeClock()
    telemetry = TelemetryRecorder()
    d = Dispatcher(
        clock=clock, telemetry=telemetry, budgets={"slow": Budget(1000, 100)}, budget=Budget(rate=0)
    )
    metrics = Metrics()
    exported = DispatcherMetrics(d, metrics)
    d.add_consumer("slow")
    d.add_consumer("fast")
    d.subscribe("slow", [TRADES])
    d.subscribe("fast", [TRADES])
    for seq in range(1, 10_001):
        event = trade(seq)
        event.ts_ingest = clock.monotonic_ns()
        d.dispatch(event)
    delivered = len(drain(d, "slow"))
    assert len(drain(d, "fast")) == 10_000  # another consumer's budget is its own
    while not d.lane("slow").gates[TRADES].idle:
        clock.advance(0.05)
        d.flush()
        delivered += len(drain(d, "slow"))
    exported.export()
    labels = {"consumer": "slow", "provider": "fake", "symbol": "BTC-USDT", "type": "Trade"}
    dead = metrics.value("tradegw_consumer_dlq_total", **labels)
    assert delivered == 1100
    assert dead == 8900
    assert delivered + dead == 10_000
    assert metrics.value("tradegw_consumer_dlq_size", consumer="slow") == 8900
    assert metrics.value("tradegw_dispatcher_delivered_total", consumer="slow") == 1100
    assert (metrics.value("tradegw_consumer_throttled_ms_total", **labels) or 0) >= 1000
    assert telemetry.named("backpressure.triggered")[0] == {**labels, "reason": "tokens"}


def test_exec_reports_bypass_budgets_and_full_lanes() -> None:
    d = Dispatcher(clock=FakeClock(), lane_size=1, budget=Budget(rate=1, burst=1))
    d.add_consumer("rec")
    d.subscribe("rec", [TRADES])
    for seq in (1, 2, 3):
        d.dispatch(trade(seq))
    for n in range(5):
        d.deliver_exec("rec", exec_report(n))
    lane = d.lane("rec")
    reports = []
    while (report := lane.pop_exec_nowait()) is not None:
        reports.append(report.client_order_id)
    assert reports == [f"o{n}" for n in range(5)]
    assert isinstance(lane.gates[TRADES], StreamGate)
    assert lane.gates[TRADES].depth == 2  # the trades wait for tokens; none was lost


def test_unsubscribing_forgets_what_the_gate_held() -> None:
    d = Dispatcher(clock=FakeClock(), budget=Budget(rate=1, burst=1))
    d.add_consumer("c")
    d.subscribe("c", [TRADES])
    for seq in (1, 2, 3):
        d.dispatch(trade(seq))
    d.unsubscribe("c", [TRADES])
    assert TRADES not in d.lane("c").gates
    d.flush()
    assert [e.seq_provider for e in drain(d, "c")] == [1]


def test_shutdown_releases_what_budgets_held_back() -> None:
    d = Dispatcher(clock=FakeClock(), budget=Budget(rate=1, burst=1))
    d.add_consumer("c")
    d.subscribe("c", [TRADES])
    for seq in (1, 2, 3):
        d.dispatch(trade(seq))
    d.flush_all()
    assert [e.seq_provider for e in drain(d, "c")] == [1, 2, 3]

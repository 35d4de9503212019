"""The merge stage with a fake clock: MergedEvents through the dispatcher, telemetry, metrics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.observability.metrics import Metrics
from tradegw_core.orchestrator.merge import MergeStage, merged_stream
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.orchestrator.windows import MergeKey, MergeSpec
from tradegw_core.schema.events import Event, EventType, MergedEvent, Ticker, Trade, make_event_id
from tradegw_core.testing.recorders import TelemetryRecorder

MS = 1_000_000
KEY = MergeKey("BTC-USDT", EventType.TRADE)
SPEC = MergeSpec("BTC-USDT", EventType.TRADE, ("binance", "kraken"), 100, 50)


def trade(provider: str, ts: int | None, n: int, symbol: str = "BTC-USDT") -> Trade:
    return Trade(
        event_id=make_event_id(provider, symbol, EventType.TRADE, n),
        provider=provider,
        symbol=symbol,
        venue_symbol=symbol,
        seq_provider=n,
        ts_exchange=ts,
        trade_id=str(n),
        price=Decimal(100),
        qty=Decimal(1),
    )


class Parts:
    def __init__(self, skew_ms: int = 20) -> None:
        self.clock = FakeClock()
        self.telemetry = TelemetryRecorder()
        self.metrics = Metrics()
        self.dispatcher = Dispatcher(clock=self.clock, telemetry=self.telemetry)
        self.orchestrator = Orchestrator(self.dispatcher)
        self.stage = MergeStage(
            self.dispatcher.dispatch,
            clock=self.clock,
            telemetry=self.telemetry,
            metrics=self.metrics,
            routing_version=lambda: self.dispatcher.routing_version,
            allowed_skew_ms=skew_ms,
            max_merges=2,
        )
        self.orchestrator.merge = self.stage
        self.lane = self.dispatcher.add_consumer("strat")
        self.dispatcher.subscribe("strat", [merged_stream(KEY)])

    def delivered(self) -> list[Event]:
        out: list[Event] = []
        while (item := self.lane.pop_nowait()) is not None:
            out.append(item)  # type: ignore[arg-type]
        return out


def test_a_complete_window_reaches_the_subscribed_consumer_once_as_a_merged_event() -> None:
    p = Parts()
    p.stage.add(SPEC)
    t0 = p.clock.time_ns()
    p.orchestrator.emit(trade("binance", t0, 1))
    p.orchestrator.emit(trade("kraken", t0 + 10 * MS, 2))
    p.orchestrator.emit(trade("binance", t0 + 20 * MS, 3))
    p.orchestrator.emit(trade("coinbase", t0 + 20 * MS, 4))  # not in this merge
    p.orchestrator.emit(trade("kraken", t0, 5, symbol="ETH-USDT"))  # another key
    assert p.delivered() == []  # the window is still open
    p.clock.advance(ns=119 * MS)
    p.stage.tick()
    assert p.delivered() == []  # end + allowed skew not reached
    p.clock.advance(ns=MS)
    p.stage.tick()  # closes on time with no fragment arriving
    [merged] = p.delivered()
    assert isinstance(merged, MergedEvent)
    assert merged.provider == "merge:Trade"
    assert merged.symbol == "BTC-USDT"
    assert merged.merge_type is EventType.TRADE
    assert (merged.window_open, merged.window_close) == (t0, t0 + 100 * MS)
    assert {p_: [f.seq_provider for f in fs] for p_, fs in merged.fragments.items()} == {
        "binance": [1, 3],
        "kraken": [2],
    }
    assert merged.seq_provider == 1
    assert merged.merge_id.startswith("BTC-USDT/Trade/")
    assert merged.trace_id == merged.merge_id
    assert merged.routing_version == p.dispatcher.routing_version
    assert p.metrics.value("tradegw_merge_windows_emitted_total", merge_key="BTC-USDT/Trade") == 1
    p.stage.export()
    assert p.metrics.value("tradegw_merge_fragments_total", merge_key="BTC-USDT/Trade") == 3
    # Skew: the gateway clock minus venue time, per provider (0 here: no delay, no offset).
    assert p.stage.skew_ms("binance") is not None
    assert p.metrics.value("tradegw_merge_clock_skew_ms", provider="kraken") is not None


def test_partial_windows_are_suppressed_and_late_fragments_dropped_with_telemetry() -> None:
    p = Parts()
    p.stage.add(SPEC)
    t0 = p.clock.time_ns()
    p.orchestrator.emit(trade("binance", t0, 1))
    p.clock.advance(ns=120 * MS)
    p.stage.tick()
    assert p.delivered() == []
    [suppressed] = p.telemetry.named("merge.suppressed_partial")
    assert suppressed["merge_key"] == "BTC-USDT/Trade"
    assert suppressed["missing_providers"] == "kraken"
    assert (
        p.metrics.value("tradegw_merge_windows_suppressed_total", merge_key="BTC-USDT/Trade") == 1
    )
    p.orchestrator.emit(trade("kraken", t0 + 50 * MS, 7))  # its window has closed
    [late] = p.telemetry.named("late_event.dropped")
    assert late == {
        "provider": "kraken",
        "symbol": "BTC-USDT",
        "seq_provider": 7,
        "lateness_ms": 70,
        "merge_key": "BTC-USDT/Trade",
    }
    assert (
        p.metrics.value(
            "tradegw_merge_late_dropped_total", merge_key="BTC-USDT/Trade", provider="kraken"
        )
        == 1
    )
    p.orchestrator.emit(trade("kraken", t0 + 10_000 * MS, 8))  # far ahead of the gateway clock
    [rejected] = p.telemetry.named("merge.fragment_rejected")
    assert rejected["reason"] == "clock_ahead"
    assert p.delivered() == []


def test_each_merge_is_computed_once_for_every_consumer_and_reset_discards_windows() -> None:
    p = Parts()
    other = p.dispatcher.add_consumer("other")
    p.dispatcher.subscribe("other", [merged_stream(KEY)])
    p.stage.add(SPEC)
    t0 = p.clock.time_ns()
    for n, provider in enumerate(("binance", "kraken")):
        p.orchestrator.emit(trade(provider, t0, n))
    p.clock.advance(ns=200 * MS)
    p.stage.tick()
    [mine] = p.delivered()
    theirs = other.pop_nowait()
    assert theirs is mine  # one MergedEvent object, routed to both lanes
    assert p.stage.emitted == 1
    # A restart throws away the windows in flight; nothing is replayed.
    p.orchestrator.emit(trade("binance", p.clock.time_ns(), 9))
    p.stage.reset()
    [discarded] = p.telemetry.named("merge.windows_discarded")
    assert discarded["fragments"] == 1
    p.clock.advance(ns=200 * MS)
    p.stage.tick()
    assert p.delivered() == []
    assert p.telemetry.named("merge.suppressed_partial") == []


def test_merges_are_bounded_and_keyed_by_symbol_and_type() -> None:
    p = Parts()
    p.stage.add(SPEC)
    with pytest.raises(ValueError, match="already runs"):
        p.stage.add(SPEC)
    ticker = MergeSpec("BTC-USDT", EventType.TICKER, ("binance", "kraken"), 100, 50)
    p.stage.add(ticker)
    with pytest.raises(ValueError, match="at most 2 merges"):
        p.stage.add(MergeSpec("ETH-USDT", EventType.TRADE, ("binance", "kraken"), 100, 50))
    t0 = p.clock.time_ns()
    for n, provider in enumerate(("binance", "kraken")):
        p.orchestrator.emit(
            Ticker(
                event_id=f"{provider}:t{n}",
                provider=provider,
                symbol="BTC-USDT",
                venue_symbol="BTCUSDT",
                ts_exchange=t0,
                bid_price=Decimal(1),
            )
        )
    assert p.stage.get(ticker.key) is not None
    assert p.stage.get(ticker.key).held == 2  # type: ignore[union-attr]
    assert p.stage.get(KEY).held == 0  # type: ignore[union-attr]
    p.stage.export()
    assert p.metrics.value("tradegw_merge_open_windows", merge_key="BTC-USDT/Ticker") == 1
    p.stage.remove(ticker.key)
    assert p.stage.get(ticker.key) is None
    assert p.metrics.value("tradegw_merge_open_windows", merge_key="BTC-USDT/Ticker") == 0
    assert set(p.stage.merges) == {KEY}

"""Market simulator: determinism, books consistent with their deltas, pacing."""

from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest

from tradegw_core.schema.events import Side
from tradegw_core.sim import (
    BookDelta,
    MarketEvent,
    MarketSimulator,
    SimTrade,
    SymbolSpec,
    VenueProfile,
    default_symbol_spec,
)


def _sim(seed: int) -> MarketSimulator:
    sim = MarketSimulator(
        [default_symbol_spec("BTC-USDT"), default_symbol_spec("ETH-USDT")], seed=seed, start_ns=0
    )
    sim.add_venue(VenueProfile("a", spread_ticks=1, depth=5))
    sim.add_venue(VenueProfile("b", spread_ticks=4, noise_ticks=3, latency_ms=7))
    return sim


def test_same_seed_same_events_other_seed_other_events() -> None:
    first, second, other = _sim(42).events(500), _sim(42).events(500), _sim(43).events(500)
    assert first == second
    assert first != other
    assert {e.venue for e in first} == {"a", "b"}
    assert any(isinstance(e, SimTrade) for e in first)


def test_deltas_rebuild_the_book_and_it_never_crosses() -> None:
    sim = _sim(1)
    start = {v: sim.book(v, "BTC-USDT") for v in ("a", "b")}
    books = {v: {Side.BUY: dict(s.bids), Side.SELL: dict(s.asks)} for v, s in start.items()}
    seqs: dict[str, list[int]] = {"a": [], "b": []}
    for event in sim.events(400):
        if isinstance(event, BookDelta) and event.symbol == "BTC-USDT":
            seqs[event.venue].append(event.seq)
            for change in event.changes:
                side = books[event.venue][change.side]
                if change.qty:
                    side[change.price] = change.qty
                else:
                    side.pop(change.price, None)
        snap = sim.book(event.venue, event.symbol)
        if snap.bids and snap.asks:
            assert snap.bids[0][0] < snap.asks[0][0]
    for venue in ("a", "b"):
        snap = sim.book(venue, "BTC-USDT")
        assert seqs[venue] == list(range(start[venue].seq + 1, snap.seq + 1))
        assert books[venue][Side.BUY] == dict(snap.bids)
        assert books[venue][Side.SELL] == dict(snap.asks)
    assert len(sim.book("a", "BTC-USDT").bids) <= 5
    assert sim.book("a", "BTC-USDT", depth=2).asks == sim.book("a", "BTC-USDT").asks[:2]


def test_prices_and_sizes_are_on_the_steps() -> None:
    sim = _sim(5)
    spec = sim.specs["ETH-USDT"]
    for event in sim.events(200):
        if isinstance(event, SimTrade):
            assert event.price % spec.tick == 0 or event.symbol != "ETH-USDT"
            assert event.qty > 0
        else:
            for change in event.changes:
                assert change.price % sim.specs[event.symbol].tick == 0
                assert change.qty % sim.specs[event.symbol].lot == 0
    assert sim.mid("ETH-USDT") % spec.tick == 0


def test_latency_and_logical_timestamps() -> None:
    sim = _sim(2)
    events = sim.events(3)
    for event in events:
        latency = 7_000_000 if event.venue == "b" else 0
        assert event.ts_ns == event.step * sim.step_ns + latency


def test_subscribe_filters_by_venue_and_unsubscribes() -> None:
    sim = _sim(9)
    seen: list[MarketEvent] = []
    unsubscribe = sim.subscribe(seen.append, venue="b")
    sim.events(20)
    assert seen
    assert all(e.venue == "b" for e in seen)
    count = len(seen)
    unsubscribe()
    unsubscribe()
    sim.events(20)
    assert len(seen) == count


def test_take_consumes_levels_and_publishes_a_delta() -> None:
    sim = _sim(4)
    seen: list[MarketEvent] = []
    sim.subscribe(seen.append)
    best = sim.best("a", "BTC-USDT", Side.SELL)
    assert best is not None
    ticks, lots = best
    fills = sim.take("a", "BTC-USDT", Side.SELL, ticks, lots + 10**9)
    assert fills == [(ticks, lots)]
    assert sim.best("a", "BTC-USDT", Side.SELL) != best
    assert isinstance(seen[-1], BookDelta)
    assert seen[-1].changes[0].qty == 0
    assert sim.peek("a", "BTC-USDT", Side.SELL, ticks, 5) == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one symbol"):
        MarketSimulator([])
    with pytest.raises(ValueError, match="rate"):
        MarketSimulator([default_symbol_spec("BTC-USDT")], rate=0)
    spec = default_symbol_spec("FOO-BAR")
    assert (spec.base, spec.quote, spec.price) == ("FOO", "BAR", Decimal("100.00"))
    assert SymbolSpec("X-Y", Decimal(1), Decimal("0.1"), Decimal(1)).max_level_lots == 1


@pytest.mark.anyio
async def test_run_paces_steps_by_rate() -> None:
    sim = _sim(0)
    enough = anyio.Event()

    def count(_: MarketEvent) -> None:
        if sim.step_count >= 100:
            enough.set()

    sim.subscribe(count)
    start = anyio.current_time()
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sim.run, 1000.0)
            await enough.wait()
            tg.cancel_scope.cancel()
    elapsed = anyio.current_time() - start
    assert elapsed >= 0.09  # 100 steps at 1000/s cannot come sooner
    assert sim.step_ns == 1_000_000
    # run() re-anchors the logical timestamps on the clock (the sim was built at start_ns=0)
    assert abs(sim.book("a", "BTC-USDT").ts_ns - time.time_ns()) < 5_000_000_000


@pytest.mark.anyio
async def test_run_skips_a_backlog_beyond_max_batch() -> None:
    sim = _sim(0)
    steps: list[int] = []
    ran = anyio.Event()

    def seen(event: MarketEvent) -> None:
        steps.append(event.step)
        if event.step >= 50:
            ran.set()

    sim.subscribe(seen)
    start = anyio.current_time()
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: sim.run(1_000_000.0, max_batch=10))
            await ran.wait()
            tg.cancel_scope.cancel()
    due = (anyio.current_time() - start) * 1_000_000
    assert sim.step_count < due / 4  # the backlog was skipped, not replayed
    # timestamps jumped over the skipped steps, so they still follow the clock
    assert abs(sim.book("a", "BTC-USDT").ts_ns - time.time_ns()) < 1_000_000_000


@pytest.mark.anyio
@pytest.mark.parametrize("interval_s", [10.0, 0.0])
async def test_run_counts_skipped_steps_and_warns_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture, interval_s: float
) -> None:
    sim = _sim(0)
    sim.skip_warn_interval_s = interval_s
    assert sim.skipped_steps == 0
    skipping_rounds = 0
    enough = anyio.Event()
    last = 0

    def seen(_: MarketEvent) -> None:
        nonlocal skipping_rounds, last
        if sim.skipped_steps > last:  # a new round of run() skipped a backlog
            skipping_rounds, last = skipping_rounds + 1, sim.skipped_steps
        if skipping_rounds >= 3:
            enough.set()

    sim.subscribe(seen)
    caplog.set_level("WARNING", logger="tradegw_core.sim.market")
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: sim.run(1_000_000.0, max_batch=10))
            await enough.wait()
            tg.cancel_scope.cancel()
    assert sim.skipped_steps > 0
    warnings = [r for r in caplog.records if r.name == "tradegw_core.sim.market"]
    if interval_s:
        assert len(warnings) == 1  # rate-limited: 3+ skipping rounds inside one 10 s interval
    else:
        assert len(warnings) >= 3  # one per skipping round when not limited
    assert "fell behind" in warnings[0].getMessage()
    assert warnings[0].levelname == "WARNING"

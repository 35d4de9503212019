"""The provider against the Kraken emulator on loopback (no sleeps: events and bounds).

The emulator's market is stepped by the test (its own clock-driven rate is set so low that
it never steps by itself), so what the venue holds is known at every assertion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from tradegw_kraken.book import KrakenBookAssembler
from tradegw_kraken.config import KrakenSettings
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.provider import KrakenProvider

from tradegw_core.book.stage import BookStages
from tradegw_core.contracts import StreamSpec
from tradegw_core.errors import ControlError, VenueRejectedError
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    KlineSummary,
    Side,
    Ticker,
    Trade,
)
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import Corrupt, Drop
from tradegw_core.sim.market import BookDelta, LevelChange, SimTrade
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import EventRecorder

pytestmark = pytest.mark.anyio
BTC = Symbol("BTC-USD")
ETH = Symbol("ETH-USD")


@pytest.fixture
async def emu() -> AsyncIterator[KrakenEmulator]:
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD", "ETH-USD"), seed=5, rate=0.001)
    async with KrakenEmulator(config) as emulator:
        yield emulator


@pytest.fixture
async def running(
    emu: KrakenEmulator,
) -> AsyncIterator[tuple[KrakenProvider, EventRecorder, BookStages]]:
    settings = KrakenSettings(
        ws_public_url=emu.ws_url, ws_auth_url=emu.ws_url, rest_url=emu.rest_url,
        request_timeout_s=5.0, heartbeat_timeout_s=30.0,
    )  # fmt: skip
    ctx = RecordingProviderContext("kraken", settings)
    async with ctx.running(KrakenProvider(ctx)) as provider:
        yield provider, ctx.events, ctx.book_stage


def _venue_change(emu: KrakenEmulator, symbol: str, *changes: tuple[str, Decimal, Decimal]) -> None:
    """Change the emulator's book as a market event would (one book update per view)."""
    delta = BookDelta("kraken", symbol, 0, 0, emu.clock.time_ns(), tuple(
        LevelChange(Side.BUY if side == "bids" else Side.SELL, price, qty)
        for side, price, qty in changes
    ))  # fmt: skip
    emu.on_market_event(delta)


def _step_until_trade(emu: KrakenEmulator, symbol: str, max_steps: int = 500) -> SimTrade:
    for _ in range(max_steps):
        for ev in emu.sim.step():
            if isinstance(ev, SimTrade) and ev.venue == "kraken" and ev.symbol == symbol:
                return ev
    raise AssertionError(f"no {symbol} trade in {max_steps} steps")


async def test_instruments_come_from_the_emulators_asset_pairs(running: Any) -> None:
    provider, _, _ = running
    inst = provider.instruments()[BTC]
    assert inst.venue_symbol == "BTC/USD"
    assert (inst.price_precision, inst.qty_precision) == (2, 5)
    assert provider.supported_types() >= {EventType.TRADE, EventType.BOOK_UPDATE}
    assert provider.system_status == "online"


async def test_trades_tickers_and_candles_then_unsubscribe(
    emu: KrakenEmulator, running: Any
) -> None:
    provider, rec, _ = running
    await provider.subscribe([StreamSpec(BTC, EventType.TRADE), StreamSpec(BTC, EventType.TICKER),
                              StreamSpec(BTC, EventType.KLINE_SUMMARY)])  # fmt: skip
    sim_trade = _step_until_trade(emu, "BTC-USD")
    await rec.until(lambda: bool(rec.of(Trade, BTC)) and len(rec.of(Ticker, BTC)) >= 2)
    trade = rec.of(Trade, BTC)[0]
    assert trade.price == sim_trade.price
    assert trade.qty == sim_trade.qty
    assert trade.side is not None
    assert trade.side.value == sim_trade.aggressor.value
    assert trade.event_id == f"kraken:BTC-USD:Trade:{sim_trade.trade_id}"
    ticker = rec.of(Ticker, BTC)[-1]
    assert ticker.last_price == sim_trade.price
    best_bid = emu.books["BTC-USD"].top("bids", 1)[0]
    assert ticker.bid_price == best_bid.price
    await rec.until(lambda: bool(rec.of(KlineSummary, BTC)))
    assert rec.of(KlineSummary, BTC)[0].interval == "1m"

    await provider.unsubscribe([StreamSpec(BTC, EventType.TRADE)])
    trades_before = len(rec.of(Trade, BTC))
    _step_until_trade(emu, "BTC-USD")
    # Frames arrive in order: once the ETH ticker subscribed afterwards shows up, any BTC
    # trade sent before it would have arrived already.
    await provider.subscribe([StreamSpec(ETH, EventType.TICKER)])
    await rec.until(lambda: bool(rec.of(Ticker, ETH)))
    assert len(rec.of(Trade, BTC)) == trades_before


async def test_book_snapshot_updates_and_checksum_resync(emu: KrakenEmulator, running: Any) -> None:
    provider, rec, stages = running
    await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
    await rec.until(lambda: bool(rec.of(BookSnapshot, BTC)))
    for _ in range(30):
        emu.sim.step()
    await rec.until(lambda: len(rec.of(BookUpdate, BTC)) >= 3)
    assert all(u.checksum is not None for u in rec.of(BookUpdate, BTC))

    # One book update leaves the venue with a wrong checksum.
    rule = emu.faults.ws(Corrupt(), match=lambda conn, f: '"type":"update"' in str(f)
                         and '"channel":"book"' in str(f), count=1)  # fmt: skip
    best = emu.books["BTC-USD"].top("bids", 1)[0]
    _venue_change(emu, "BTC-USD", ("bids", best.price, best.qty + Decimal("0.5")))
    await rec.until(lambda: len(rec.of(BookSnapshot, BTC)) >= 2)
    assert rule.fired == 1
    assert rec.named("checksum.failed")[0]["symbol"] == BTC
    assert any(r["reason"] == "checksum" for r in rec.named("book.resync"))
    stage = stages.get(BTC)
    assert stage is not None
    assert stage.live
    asm = stage.assembler
    assert isinstance(asm, KrakenBookAssembler)
    # After the resync the local book is the emulator's book (nothing stepped since).
    assert asm.book.top_bids() == emu.books["BTC-USD"].top("bids", 10)
    assert asm.book.top_asks() == emu.books["BTC-USD"].top("asks", 10)
    # ... and it keeps verifying.
    updates = len(rec.of(BookUpdate, BTC))
    for _ in range(20):
        emu.sim.step()
    await rec.until(lambda: len(rec.of(BookUpdate, BTC)) > updates)
    assert len(rec.named("checksum.failed")) == 1


async def test_book_levels_pushed_out_of_depth_are_truncated(
    emu: KrakenEmulator, running: Any
) -> None:
    provider, rec, stages = running
    book = emu.books["ETH-USD"]
    # room above the best bid first (before subscribing): the better bids must not cross
    _venue_change(emu, "ETH-USD", *(("asks", lv.price, Decimal(0)) for lv in book.top("asks", 6)))
    await provider.subscribe([StreamSpec(ETH, EventType.BOOK_SNAPSHOT)])
    await rec.until(lambda: bool(rec.of(BookSnapshot, ETH)))
    best = book.top("bids", 1)[0].price
    # five better bids push five levels out of the top 10 (the venue sends no delete)
    better = [("bids", best + Decimal(i) / 100, Decimal("1.5")) for i in range(1, 6)]
    _venue_change(emu, "ETH-USD", *better)
    await rec.until(lambda: bool(rec.of(BookUpdate, ETH)))
    (update,) = rec.of(BookUpdate, ETH)
    assert sum(1 for lv in update.bids if lv.qty == 0) == 5  # truncation reported
    stage = stages.get(ETH)
    assert stage is not None
    assert len(stage.assembler.book.bids) == 10
    assert not rec.named("checksum.failed")


async def test_subscription_errors(running: Any) -> None:
    provider, _, _ = running
    with pytest.raises(ControlError, match="no pair"):
        await provider.subscribe([StreamSpec(Symbol("NOPE-USD"), EventType.TRADE)])
    # The venue's own refusal (a depth it does not offer) comes back with its words.
    provider._params = lambda channel: {"depth": 27}
    with pytest.raises(VenueRejectedError, match="Subscription depth not supported"):
        await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])


async def test_dropped_update_is_caught_by_the_next_checksum(
    emu: KrakenEmulator, running: Any
) -> None:
    provider, rec, stages = running
    await provider.subscribe(
        [StreamSpec(BTC, EventType.BOOK_UPDATE), StreamSpec(BTC, EventType.BOOK_SNAPSHOT)]
    )
    await rec.until(lambda: bool(rec.of(BookSnapshot, BTC)))
    emu.faults.ws(Drop(), match=lambda conn, f: '"type":"update"' in str(f), count=1)
    bid1, bid2 = emu.books["BTC-USD"].top("bids", 2)
    _venue_change(emu, "BTC-USD", ("bids", bid1.price, bid1.qty + Decimal("0.25")))  # lost
    _venue_change(emu, "BTC-USD", ("bids", bid2.price, bid2.qty + Decimal("0.25")))
    await rec.until(lambda: len(rec.of(BookSnapshot, BTC)) >= 2)
    assert len(rec.named("checksum.failed")) == 1
    assert not rec.of(BookUpdate, BTC)  # the update built on the gap never reached anyone
    stage = stages.get(BTC)
    assert stage is not None
    assert stage.assembler.book.top_bids() == emu.books["BTC-USD"].top("bids", 10)

    # Unsubscribing one book type keeps the book; unsubscribing both ends it.
    await provider.unsubscribe([StreamSpec(BTC, EventType.BOOK_SNAPSHOT)])
    assert stages.get(BTC) is stage
    await provider.unsubscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
    assert stages.get(BTC) is None
    assert all(not conn.state.books for conn in emu.connections.values())  # venue side too
    snapshots = len(rec.of(BookSnapshot, BTC))
    _venue_change(emu, "BTC-USD", ("bids", bid2.price, bid2.qty + Decimal("0.5")))
    # frames are ordered: the ticker snapshot subscribed afterwards arrives after any book
    await provider.subscribe([StreamSpec(BTC, EventType.TICKER)])
    await rec.until(lambda: len(rec.of(Ticker, BTC)) >= 1)
    assert len(rec.of(BookSnapshot, BTC)) == snapshots
    assert not rec.of(BookUpdate, BTC)


async def test_two_connections_carry_the_same_trade_with_one_event_id(emu: KrakenEmulator) -> None:
    settings = KrakenSettings(
        ws_public_url=emu.ws_url, rest_url=emu.rest_url, connections_per_stream=2,
        heartbeat_timeout_s=30.0,
    )  # fmt: skip
    ctx = RecordingProviderContext("kraken", settings)
    rec = ctx.events
    async with ctx.running(KrakenProvider(ctx)) as provider:
        await provider.subscribe([StreamSpec(BTC, EventType.TRADE)])
        assert sum(1 for c in emu.connections.values() if BTC in c.state.trades) == 2
        _step_until_trade(emu, "BTC-USD")
        await rec.until(lambda: len(rec.of(Trade, BTC)) == 2)
        first, second = rec.of(Trade, BTC)
        assert first.event_id == second.event_id  # the dispatcher's dedup keeps one

"""The emulator kit's tape (trades, candles, stats) and its state kept across restarts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradegw_core.schema.events import Side
from tradegw_core.sim import Emulator, EmulatorConfig, SimTrade
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.sim.state import load_state, save_state
from tradegw_core.sim.tape import Tape

D = Decimal
SYM = "BTC-USDT"


def _trade(tid: int, ms: int, price: str, qty: str, aggressor: Side = Side.BUY) -> SimTrade:
    return SimTrade("v", SYM, tid, 0, ms * 1_000_000, D(price), D(qty), aggressor)


def test_tape_keeps_recent_trades_candles_and_stats() -> None:
    tape = Tape(trades=3)
    rows = [
        (1, 0, "100", "1"),
        (2, 30_000, "105", "2"),
        (3, 61_000, "95", "1"),
        (4, 125_000, "101", "3"),
    ]
    assert tape.stats(SYM) is None
    for tid, ms, price, qty in rows:
        tape.add(_trade(tid, ms, price, qty, Side.SELL if tid == 2 else Side.BUY))
    assert [t.trade_id for t in tape.recent(SYM)] == [2, 3, 4]  # oldest evicted
    assert [t.trade_id for t in tape.recent(SYM, 1)] == [4]
    assert tape.recent(SYM, 0) == []
    minutes = tape.candles(SYM, 60)
    assert [(c.start_ms, c.open, c.high, c.low, c.close, c.volume, c.trades) for c in minutes] == [
        (0, D(100), D(105), D(100), D(105), D(3), 2),
        (60_000, D(95), D(95), D(95), D(95), D(1), 1),
        (120_000, D(101), D(101), D(101), D(101), D(3), 1),
    ]
    first = minutes[0]
    assert first.end_ms == 59_999
    assert first.taker_buy_volume == D(1)  # trade 2 was a sell
    assert first.vwap == (D(100) + D(210)) / 3
    three = tape.candles(SYM, 180)
    assert [(c.start_ms, c.volume, c.first_trade_id, c.last_trade_id) for c in three] == [
        (0, D(7), 1, 4)
    ]
    assert [c.start_ms for c in tape.candles(SYM, 60, limit=2)] == [60_000, 120_000]
    assert [c.start_ms for c in tape.candles(SYM, 60, start_ms=60_000, limit=1)] == [60_000]
    assert [c.start_ms for c in tape.candles(SYM, 60, end_ms=60_000)] == [0, 60_000]
    seconds = tape.candles(SYM, 30)  # sub-minute candles come from the recent trades
    assert [c.start_ms for c in seconds] == [30_000, 60_000, 120_000]
    stats = tape.stats(SYM)
    assert stats is not None
    assert (stats.open, stats.high, stats.low, stats.last, stats.trades) == (
        D(100),
        D(105),
        D(95),
        D(101),
        4,
    )
    assert stats.vwap == (D(100) + D(210) + D(95) + D(303)) / 7
    with pytest.raises(ValueError, match="unsupported candle interval"):
        tape.candles(SYM, 90)


def _emulator(state_dir: Path | None = None) -> Emulator:
    sim = MarketSimulator([default_symbol_spec(SYM)], seed=1)
    return Emulator(EmulatorConfig(venue="v", symbols=(SYM,), simulator=sim, state_dir=state_dir))


def test_state_round_trips_orders_balances_fills_and_ids(tmp_path: Path) -> None:
    emu = _emulator()
    engine = emu.engines[SYM]
    ask = emu.sim.book("v", SYM, depth=1).asks[0]
    bid = emu.sim.book("v", SYM, depth=1).bids[0][0]
    inside = bid + D("0.01")  # inside the 2-tick spread: the best bid
    resting = engine.place("main", "rest-1", Side.BUY, D("0.01"), inside)
    engine.place("main", "rest-2", Side.BUY, D("0.01"), inside)
    engine.place("main", "gone-1", Side.BUY, D("0.01"), bid - D(20))
    engine.cancel("main", client_order_id="gone-1")
    fill = engine.place("main", "take-1", Side.BUY, ask[1], ask[0])
    assert fill[-1].state.value == "filled"
    path = save_state(emu, tmp_path)
    assert json.loads(path.read_text())["venue"] == "v"

    back = _emulator()
    assert load_state(back, tmp_path)
    assert back.ledger.dump() == emu.ledger.dump()
    assert [e.client_order_id for e in back.engines[SYM].open_orders()] == ["rest-1", "rest-2"]
    assert back.engines[SYM].order("main", client_order_id="gone-1") == engine.order(
        "main", client_order_id="gone-1"
    )
    assert list(back.fills) == list(emu.fills)
    assert back.fills
    assert back.sim.last_trade_id("v", SYM) == emu.sim.last_trade_id("v", SYM)
    # the restored orders still rest in time priority and trade; new ids follow the old
    nxt = back.engines[SYM].place("main", "new-1", Side.BUY, D("0.01"), bid - D(30))
    assert nxt[0].order_id > max(e.order_id for e in engine.closed_orders())
    back.ledger.deposit("other", "BTC", D(1))
    sold = back.engines[SYM].place("other", "sell-1", Side.SELL, D("0.01"), inside)
    assert sold[-1].state.value == "filled"
    first = back.engines[SYM].order("main", order_id=resting[0].order_id)
    assert first is not None
    assert first.state.value == "filled"
    second = back.engines[SYM].order("main", client_order_id="rest-2")
    assert second is not None
    assert second.state.value == "new"
    locked = back.ledger.balance("main", "USDT").locked
    cancel = back.engines[SYM].cancel("main", client_order_id="rest-2")
    assert cancel.state.value == "canceled"
    assert locked - back.ledger.balance("main", "USDT").locked == inside * D("0.01001")


def test_state_files_of_another_venue_are_refused(tmp_path: Path) -> None:
    assert not load_state(_emulator(), tmp_path)  # nothing yet
    (tmp_path / "v.json").write_text(json.dumps({"version": 1, "venue": "other"}))
    with pytest.raises(ValueError, match="not a version 1 state file of 'v'"):
        load_state(_emulator(), tmp_path)


@pytest.mark.anyio
async def test_a_serving_emulator_loads_its_state_and_writes_it_on_stop(tmp_path: Path) -> None:
    async with _emulator(tmp_path) as emu:
        bid = emu.sim.book("v", SYM, depth=1).bids[0][0]
        emu.engines[SYM].place("main", "kept-1", Side.BUY, D("0.01"), bid - D(10))
    async with _emulator(tmp_path) as again:
        assert [e.client_order_id for e in again.engines[SYM].open_orders()] == ["kept-1"]

"""Properties of the matching engine for any sequence of orders, cancels and market steps."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradegw_core.clock import FakeClock
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim import (
    ExecEvent,
    Ledger,
    MarketSimulator,
    MatchingEngine,
    OrderState,
    SymbolSpec,
    VenueProfile,
)

ACCOUNTS = ("a", "b")

_limit = st.tuples(
    st.just("limit"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(list(Side)),
    st.integers(1, 400),  # lots
    st.integers(-8, 8),  # ticks away from the mid
    st.sampled_from(list(TimeInForce)),
)
_market = st.tuples(
    st.just("market"), st.sampled_from(ACCOUNTS), st.sampled_from(list(Side)), st.integers(1, 400)
)
_cancel = st.tuples(st.just("cancel"), st.sampled_from(ACCOUNTS), st.integers(0, 30))
_step = st.tuples(st.just("step"), st.integers(1, 6))
OPS = st.lists(st.one_of(_limit, _market, _cancel, _step), min_size=1, max_size=30)


def _run(ops: list[tuple[object, ...]], seed: int) -> tuple[list[ExecEvent], Ledger]:
    thin = SymbolSpec("ETH-USDT", D(3000), D("0.01"), D("0.0001"), D(1), 3, D("0.01"))
    sim = MarketSimulator([thin], seed=seed, start_ns=0)
    sim.add_venue(VenueProfile("v", spread_ticks=2, noise_ticks=1, depth=4))
    spec = sim.specs["ETH-USDT"]
    ledger = Ledger()
    ledger.deposit("a", "USDT", D(500))
    ledger.deposit("a", "ETH", D("0.1"))
    ledger.deposit("b", "USDT", D(100_000))
    ledger.deposit("b", "ETH", D(30))
    engine = MatchingEngine("v", spec, ledger, sim=sim, clock=FakeClock())
    events: list[ExecEvent] = []
    engine.subscribe(events.append)
    for n, op in enumerate(ops):
        kind = op[0]
        if kind == "limit":
            _, account, side, lots, offset, tif = op
            price = sim.mid("ETH-USDT") + spec.tick * offset  # type: ignore[operator]
            engine.place(account, f"o{n}", side, spec.lot * lots, price, time_in_force=tif)  # type: ignore[arg-type,operator]
        elif kind == "market":
            _, account, side, lots = op
            engine.place(account, f"o{n}", side, spec.lot * lots, order_type=OrderType.MARKET)  # type: ignore[arg-type,operator]
        elif kind == "cancel":
            _, account, idx = op
            engine.cancel(account, client_order_id=f"o{idx}")  # type: ignore[arg-type]
        else:
            sim.events(op[1])  # type: ignore[arg-type]
        for account in ACCOUNTS:
            for asset, balance in ledger.balances(account).items():
                assert balance.free >= 0, (account, asset, balance)
                assert balance.locked >= 0, (account, asset, balance)
            if not engine.open_orders(account):
                assert all(b.locked == 0 for b in ledger.balances(account).values())
    return events, ledger


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, seed=st.integers(0, 5))
def test_fills_never_exceed_the_order_and_balances_never_go_negative(
    ops: list[tuple[object, ...]], seed: int
) -> None:
    events, _ = _run(ops, seed)
    filled: dict[int, D] = defaultdict(D)
    last: dict[int, ExecEvent] = {}
    for event in events:
        filled[event.order_id] += event.last_qty
        assert filled[event.order_id] == event.cum_qty <= event.qty
        if event.order_id in last:
            assert last[event.order_id].state.is_open  # nothing after a final state
        last[event.order_id] = event
    for event in last.values():
        if event.state is OrderState.FILLED:
            assert event.cum_qty == event.qty


def test_same_seed_same_orders_same_execution_events() -> None:
    ops: list[tuple[object, ...]] = [
        ("limit", "b", Side.BUY, 300, -1, TimeInForce.GTC),
        ("limit", "b", Side.SELL, 300, 1, TimeInForce.GTC),
        ("step", 50),
        ("market", "b", Side.BUY, 50),
        ("step", 50),
    ]
    first, ledger1 = _run(ops, 3)
    second, ledger2 = _run(ops, 3)
    assert first == second
    assert len(first) > 3
    assert ledger1.balances("b") == ledger2.balances("b")

"""Matching engine: priority, partial fills, IOC/FOK, cancels, rejects, balances."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim import (
    ExecEvent,
    FaultPlan,
    Ledger,
    Liquidity,
    MarketSimulator,
    MatchingEngine,
    OrderState,
    RejectOrder,
    RejectReason,
    SimTrade,
    SymbolSpec,
    VenueProfile,
    default_symbol_spec,
)

SPEC = SymbolSpec("BTC-USDT", D("100.0"), D("0.5"), D("0.1"), min_notional=D("10"))


def _engine(**kw: object) -> tuple[MatchingEngine, Ledger, list[ExecEvent]]:
    ledger = Ledger()
    for account in ("a", "b", "c", "d"):
        ledger.deposit(account, "USDT", D(10_000))
        ledger.deposit(account, "BTC", D(10))
    engine = MatchingEngine("v", SPEC, ledger, clock=FakeClock(), **kw)  # type: ignore[arg-type]
    seen: list[ExecEvent] = []
    engine.subscribe(seen.append)
    return engine, ledger, seen


def _states(events: list[ExecEvent]) -> list[str]:
    return [e.state.value for e in events]


def test_price_time_priority_among_resting_orders() -> None:
    engine, _, _ = _engine()
    engine.place("a", "a1", Side.SELL, D("1.0"), D("101.0"))
    engine.place("b", "b1", Side.SELL, D("1.0"), D("101.0"))
    engine.place("c", "c1", Side.SELL, D("1.0"), D("100.5"))  # better price, later
    events = engine.place("d", "d1", Side.BUY, D("2.5"), D("101.0"))
    fills = [e for e in events if e.liquidity is Liquidity.MAKER]
    assert [(e.account, e.last_qty, e.last_price) for e in fills] == [
        ("c", D("1.0"), D("100.5")),
        ("a", D("1.0"), D("101.0")),
        ("b", D("0.5"), D("101.0")),
    ]
    taker = [e for e in events if e.account == "d"]
    assert _states(taker) == ["new", "partially_filled", "partially_filled", "filled"]
    assert taker[-1].cum_qty == D("2.5")
    assert taker[-1].cum_quote == D("252.0")
    assert taker[-1].avg_price == D("252.0") / D("2.5")
    b1 = engine.order("b", client_order_id="b1")
    assert b1 is not None
    assert b1.state is OrderState.PARTIALLY_FILLED
    assert b1.leaves_qty == D("0.5")
    assert len({e.trade_id for e in fills}) == 3


def test_partial_fill_then_rest_then_filled_by_later_order() -> None:
    engine, ledger, seen = _engine()
    engine.place("a", "s", Side.SELL, D("0.4"), D("100.0"))
    events = engine.place("b", "big", Side.BUY, D("1.0"), D("100.0"))
    assert _states([e for e in events if e.account == "b"]) == ["new", "partially_filled"]
    assert [e.client_order_id for e in engine.open_orders()] == ["big"]
    assert engine.open_orders("a") == []
    more = engine.place("c", "s2", Side.SELL, D("0.6"), D("99.5"))  # crosses the resting buy
    maker = [e for e in more if e.account == "b"]
    assert maker[-1].state is OrderState.FILLED
    assert maker[-1].last_price == D("100.0")
    assert maker[-1].liquidity is Liquidity.MAKER
    assert ledger.balance("b", "BTC").free == D("11.0")
    # b paid 100 per BTC plus 0.1% fee, nothing stays locked after the fill
    assert ledger.balance("b", "USDT") == type(ledger.balance("b", "USDT"))(
        D(10_000) - D("100.0") - D("0.1"), D(0)
    )
    assert seen[-1] == maker[-1]


def test_ioc_expires_the_remainder_and_fok_is_all_or_nothing() -> None:
    engine, ledger, _ = _engine()
    engine.place("a", "s", Side.SELL, D("0.5"), D("100.0"))
    ioc = engine.place("b", "i", Side.BUY, D("1.0"), D("100.0"), time_in_force=TimeInForce.IOC)
    assert _states([e for e in ioc if e.account == "b"]) == ["new", "partially_filled", "expired"]
    assert ioc[-1].cum_qty == D("0.5")
    assert ioc[-1].leaves_qty == 0
    engine.place("a", "s2", Side.SELL, D("0.5"), D("100.0"))
    fok = engine.place("c", "f", Side.BUY, D("1.0"), D("100.0"), time_in_force=TimeInForce.FOK)
    assert _states(fok) == ["new", "expired"]
    assert ledger.balance("c", "USDT").locked == 0
    fok_ok = engine.place("c", "f2", Side.BUY, D("0.5"), D("100.0"), time_in_force=TimeInForce.FOK)
    assert fok_ok[-1].state is OrderState.FILLED


def test_cancel_releases_and_unknown_is_rejected() -> None:
    engine, ledger, seen = _engine()
    placed = engine.place("a", "x", Side.BUY, D("1.0"), D("90.0"))[0]
    assert ledger.balance("a", "USDT").locked == D("90.0") * D("1.001")
    assert engine.cancel("b", client_order_id="x").reason is RejectReason.UNKNOWN_ORDER
    done = engine.cancel("a", order_id=placed.order_id)
    assert done.state is OrderState.CANCELED
    assert seen[-1] == done
    assert ledger.balance("a", "USDT") == type(ledger.balance("a", "USDT"))(D(10_000), D(0))
    again = engine.cancel("a", client_order_id="x")
    assert again.state is OrderState.REJECTED
    assert again.reason is RejectReason.UNKNOWN_ORDER
    assert engine.order("a", client_order_id="x") == done
    assert engine.order("a", order_id=placed.order_id) == done
    assert engine.order("b", order_id=placed.order_id) is None
    assert engine.order("a") is None
    assert engine.cancel("a").reason is RejectReason.UNKNOWN_ORDER


@pytest.mark.parametrize(
    ("qty", "price", "order_type", "reason"),
    [
        (D("1000"), D("100.0"), OrderType.LIMIT, RejectReason.INSUFFICIENT_BALANCE),
        (D("1.0"), D("100.2"), OrderType.LIMIT, RejectReason.BAD_PRICE_STEP),
        (D("1.05"), D("100.0"), OrderType.LIMIT, RejectReason.BAD_QTY_STEP),
        (D("0.1"), D("50.0"), OrderType.LIMIT, RejectReason.MIN_NOTIONAL),
        (D("0"), D("100.0"), OrderType.LIMIT, RejectReason.BAD_QTY),
        (D("1.0"), None, OrderType.LIMIT, RejectReason.BAD_PRICE),
        (D("1.0"), D("-1"), OrderType.LIMIT, RejectReason.BAD_PRICE),
    ],
)
def test_rejects_with_reasons(
    qty: D, price: D | None, order_type: OrderType, reason: RejectReason
) -> None:
    engine, ledger, seen = _engine()
    events = engine.place("a", "r", Side.BUY, qty, price, order_type=order_type)
    assert len(events) == 1
    assert events[0].state is OrderState.REJECTED
    assert events[0].reason is reason
    assert events[0].message
    assert seen == []  # rejects are answered, not streamed
    assert ledger.balance("a", "USDT").locked == 0


def test_sell_without_base_and_duplicate_open_client_id() -> None:
    engine, ledger, _ = _engine()
    short = engine.place("a", "s", Side.SELL, D("11.0"), D("100.0"))
    assert short[0].reason is RejectReason.INSUFFICIENT_BALANCE
    engine.place("a", "dup", Side.BUY, D("1.0"), D("90.0"))
    again = engine.place("a", "dup", Side.BUY, D("1.0"), D("90.0"))
    assert again[0].reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert engine.place("b", "dup", Side.BUY, D("1.0"), D("90.0"))[0].state is OrderState.NEW
    engine.cancel("a", client_order_id="dup")
    assert engine.place("a", "dup", Side.BUY, D("1.0"), D("90.0"))[0].state is OrderState.NEW
    assert ledger.balance("a", "BTC").free == 10


def test_injected_reject() -> None:
    plan = FaultPlan()
    rule = plan.order(RejectOrder("busy"), match=lambda intent: intent.client_order_id == "x")
    engine, _, _ = _engine(faults=plan)
    rejected = engine.place("a", "x", Side.BUY, D("1.0"), D("90.0"))
    assert (rejected[0].reason, rejected[0].message) == (RejectReason.INJECTED, "busy")
    assert engine.place("a", "x", Side.BUY, D("1.0"), D("90.0"))[0].state is OrderState.NEW
    assert rule.fired == 1
    assert plan.empty


def test_market_order_without_liquidity_expires() -> None:
    engine, ledger, _ = _engine()
    events = engine.place("a", "m", Side.SELL, D("1.0"), order_type=OrderType.MARKET)
    assert _states(events) == ["new", "expired"]
    assert ledger.balance("a", "BTC") == type(ledger.balance("a", "BTC"))(D(10), D(0))


def test_history_is_bounded() -> None:
    engine, _, _ = _engine(history=1)
    engine.place("a", "h1", Side.BUY, D("1.0"), D("90.0"))
    engine.place("a", "h2", Side.BUY, D("1.0"), D("90.0"))
    engine.cancel("a", client_order_id="h1")
    engine.cancel("a", client_order_id="h2")
    assert engine.order("a", client_order_id="h1") is None
    assert engine.order("a", client_order_id="h2") is not None


# ---------------------------------------------------------------- against the simulator
def _with_sim(seed: int = 11) -> tuple[MatchingEngine, Ledger, MarketSimulator, list[ExecEvent]]:
    sim = MarketSimulator([default_symbol_spec("ETH-USDT")], seed=seed, start_ns=0)
    sim.add_venue(VenueProfile("v", spread_ticks=6, noise_ticks=2, depth=10))
    ledger = Ledger()
    ledger.deposit("a", "USDT", D(1_000_000))
    ledger.deposit("a", "ETH", D(100))
    engine = MatchingEngine("v", sim.specs["ETH-USDT"], ledger, sim=sim, clock=FakeClock())
    seen: list[ExecEvent] = []
    engine.subscribe(seen.append)
    return engine, ledger, sim, seen


def test_market_buy_walks_the_simulated_book_and_prints_public_trades() -> None:
    engine, ledger, sim, _ = _with_sim()
    public: list[object] = []
    sim.subscribe(public.append)
    before = sim.book("v", "ETH-USDT")
    lot = sim.specs["ETH-USDT"].lot
    part = lot * int(before.asks[1][1] / lot / 2)
    qty = before.asks[0][1] + part
    events = engine.place("a", "mb", Side.BUY, qty, order_type=OrderType.MARKET)
    fills = [e for e in events if e.last_qty]
    assert [(e.last_price, e.last_qty) for e in fills] == [
        before.asks[0],
        (before.asks[1][0], part),
    ]
    assert events[-1].state is OrderState.FILLED
    after = sim.book("v", "ETH-USDT")
    assert after.asks[0] == (before.asks[1][0], before.asks[1][1] - part)
    trades = [e for e in public if isinstance(e, SimTrade)]
    assert [t.trade_id for t in trades] == [e.trade_id for e in fills]
    assert all(t.origin == "user" and t.aggressor is Side.BUY for t in trades)
    assert ledger.balance("a", "USDT").locked == 0
    assert ledger.balance("a", "ETH").free == D(100) + qty


def test_market_buy_beyond_balance_is_rejected() -> None:
    engine, ledger, _sim, _ = _with_sim()
    ledger.deposit("poor", "USDT", D(10))
    events = engine.place("poor", "p", Side.BUY, D("1.0"), order_type=OrderType.MARKET)
    assert events[0].reason is RejectReason.INSUFFICIENT_BALANCE
    tiny = engine.place("a", "t", Side.SELL, D("0.0001"), order_type=OrderType.MARKET)
    assert tiny[0].reason is RejectReason.MIN_NOTIONAL


def test_resting_orders_fill_when_the_market_moves_through_them() -> None:
    engine, ledger, sim, seen = _with_sim()
    book = sim.book("v", "ETH-USDT")
    tick = sim.specs["ETH-USDT"].tick
    engine.place("a", "bid", Side.BUY, D("0.5"), book.bids[0][0] + tick)
    engine.place("a", "ask", Side.SELL, D("0.5"), book.asks[0][0] - tick)
    for _ in range(2000):
        sim.step()
        if not engine.open_orders():
            break
    assert engine.open_orders() == []
    final = {e.client_order_id: e for e in seen if e.state is OrderState.FILLED}
    assert set(final) == {"bid", "ask"}
    assert final["bid"].avg_price == book.bids[0][0] + tick  # always at the order's own price
    assert final["ask"].avg_price == book.asks[0][0] - tick
    assert all(e.liquidity is Liquidity.MAKER for e in seen if e.last_qty)
    for asset in ("USDT", "ETH"):
        bal = ledger.balance("a", asset)
        assert bal.locked == 0
        assert bal.free >= 0


def test_engine_close_stops_following_the_market() -> None:
    engine, _, sim, seen = _with_sim()
    book = sim.book("v", "ETH-USDT")
    engine.close()
    engine.close()
    engine.place("a", "bid", Side.BUY, D("0.5"), book.bids[0][0])
    sim.events(300)
    assert _states(seen) == ["new"]

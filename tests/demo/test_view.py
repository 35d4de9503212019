"""The demo view: what the monitor collects and how the view and summaries render it."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.clock import FakeClock
from tradegw_core.consumer.runner import ConsumerStats
from tradegw_core.demo.tap import DemoTap
from tradegw_core.demo.view import (
    ConsumerData,
    Monitor,
    OrderData,
    RowData,
    ViewData,
    final_summary,
    render_rich,
    render_text,
)
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Level, Side, Ticker, Trade

D = Decimal


def _base(provider: str, symbol: str = "BTC-USDT") -> dict[str, Any]:
    return {"provider": provider, "symbol": symbol, "venue_symbol": symbol}


def fake_gateway(clock: FakeClock) -> Any:
    """The attributes of a Gateway the monitor reads, with two example consumers."""
    stats = ConsumerStats()
    stats.events, stats.exec_reports = 12, 3
    lane = SimpleNamespace(depth=4, exec_depth=1)
    order = SimpleNamespace(
        client_order_id="mmabc-1",
        side=Side.BUY,
        price=D("100.01"),
        qty=D("0.001"),
        cum_qty=D("0.001"),
        state="FILLED",
    )
    live = SimpleNamespace(
        client_order_id="mmabc-2", side=Side.SELL, price=D("100.04"), qty=D("0.001"),
        cum_qty=D(0), state="ACK",
    )  # fmt: skip
    maker = SimpleNamespace(
        states_seen=Counter({"ACK": 2, "FILLED": 1}),
        finished={"mmabc-1": order},
        live={"mmabc-2": live},
        settings=SimpleNamespace(provider="binance", symbol="BTC-USDT"),
        mid=D("100.025"),
        position=D("0.001"),
        fills=1,
        suppressed=0,
        rejected=0,
    )
    cross = SimpleNamespace(
        symbol="BTC-USDT", bid=D("100.03"), bid_venue="kraken", ask=D("100.02"),
        ask_venue="binance", spread=D("-0.01"), spread_bps=D("-1.00"), crossed=True,
    )  # fmt: skip
    return SimpleNamespace(
        telemetry=TelemetryBus(clock=clock),
        consumer_stats={"market_maker": stats},
        dispatcher=SimpleNamespace(lanes={"market_maker": lane}),
        consumers={"spread": SimpleNamespace(latest={"BTC-USDT": cross}), "market_maker": maker},
    )


@pytest.mark.anyio
async def test_monitor_collects_rows_rates_resyncs_and_the_example_consumers() -> None:
    clock = FakeClock()
    tap = DemoTap(["binance", "kraken"], ["BTC-USDT"])
    tap._ctx = SimpleNamespace(clock=clock)  # type: ignore[assignment]
    gw = fake_gateway(clock)
    monitor = Monitor(
        tap, hints=["metrics: http://x"], skipped={"coinbase": "missing"}, clock=clock
    )
    monitor.attach(gw)
    now = clock.monotonic_ns()
    await tap.on_event(
        BookSnapshot(
            event_id="s", ts_ingest=now - 2_000_000, bids=(Level(D(100), D(1)),),
            asks=(Level(D("100.05"), D(1)),), **_base("binance"),
        )
    )  # fmt: skip
    await tap.on_event(
        BookUpdate(event_id="u", bids=(Level(D("100.01"), D(1)),), **_base("binance"))
    )
    await tap.on_event(
        Trade(event_id="t", trade_id="1", price=D(100), qty=D(2), side=Side.SELL, **_base("kraken"))
    )
    await tap.on_event(
        Ticker(event_id="k", bid_price=D(99), ask_price=D(101), last_price=D(7), **_base("kraken"))
    )
    await tap.on_event(Ticker(event_id="k2", bid_price=D(1), **_base("binance")))  # book wins
    await tap.on_event(Trade(event_id="o", trade_id="2", price=D(1), qty=D(1), **_base("x", "Y-Z")))
    gw.telemetry.emit("book.resync", provider="binance", symbol="BTC-USDT", reason="gap")
    gw.telemetry.emit("book.resync", provider="binance", symbol="BTC-USDT", reason="gap")
    clock.advance(2.0)
    data = monitor.collect()
    rows = {(r.venue, r.symbol): r for r in data.rows}
    binance = rows[("binance", "BTC-USDT")]
    assert (binance.bid, binance.ask, binance.spread) == (D("100.01"), D("100.05"), D("0.04"))
    assert binance.events == 3
    assert binance.rate == pytest.approx(1.5)
    assert binance.resyncs == 2
    assert binance.lag_ms == pytest.approx(2.0)
    kraken = rows[("kraken", "BTC-USDT")]
    assert (kraken.bid, kraken.ask, kraken.last) == (D(99), D(101), "100 x 2 sell")
    assert rows[("x", "Y-Z")].last == "1 x 1"
    assert data.consumers[0].queued == 5
    assert data.exec_states == {"ACK": 2, "FILLED": 1}
    assert [o.state for o in data.orders] == ["FILLED", "ACK"]
    assert "CROSSED" in data.spreads[0]
    assert "fills 1" in data.maker
    # Rates are per interval: nothing new since the last collection.
    clock.advance(1.0)
    assert monitor.collect().rows[0].rate == 0.0
    monitor.detach()
    assert monitor.tap.events_by_venue() == {"binance": 3, "kraken": 2, "x": 1}
    assert monitor.tap.books_by_venue() == {"binance": 2, "kraken": 0, "x": 0}
    assert monitor.tap.trades_by_venue() == {"binance": 0, "kraken": 1, "x": 1}


def test_renderings_show_markets_orders_states_and_hints() -> None:
    clock = FakeClock()
    tap = DemoTap(["binance"], ["BTC-USDT"])
    monitor = Monitor(tap, hints=["metrics: http://x"], skipped={"kraken": "missing"}, clock=clock)
    monitor.attach(fake_gateway(clock))
    data = monitor.collect()
    monitor.detach()
    console = Console(file=io.StringIO(), width=200)
    console.print(render_rich(data))
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    for text in ("mmabc-1", "FILLED", "ACK", "market maker on binance", "CROSSED",
                 "skipped kraken: missing", "metrics: http://x", "queued (lag)"):  # fmt: skip
        assert text in drawn
    text = render_text(data)
    assert "binance   BTC-USDT" in text
    assert "consumer market_maker: 12 events, 3 exec reports" in text
    summary = final_summary(data)
    assert "events from binance: 0" in summary
    assert "exec report states seen: ACK=2, FILLED=1" in summary
    assert "skipped kraken: missing" in summary


def demo_view_data(orders: int = 10) -> ViewData:
    """What the demo shows after a few seconds: three venues, two symbols, ten orders."""
    rows = [
        RowData(venue, symbol, D(bid), D(ask), f"{bid} x 0.04300 sell", 80, 8.0, 0, 1.1)
        for venue in ("binance", "coinbase", "kraken")
        for symbol, bid, ask in (("BTC-USDT", "59999.93", "60000.12"),
                                 ("ETH-USDT", "3000.17", "3000.22"))
    ]  # fmt: skip
    consumers = [
        ConsumerData(name, 100, 28 if name == "market_maker" else 0, 0, 1)
        for name in ("printer", "spread", "market_maker", "demo-view")
    ]
    states = ("FILLED", "CANCELLED", "ACK")
    return ViewData(
        elapsed_s=4.0,
        rows=rows,
        consumers=consumers,
        orders=[
            OrderData(f"mm1b2c-{n}", "buy", D("59999.9") + n, D("0.00017"), D(0), states[n % 3])
            for n in range(orders)
        ],
        maker="market maker on binance BTC-USDT: mid 60000.09, position -0.00017, fills 7, "
        "suppressed 0, rejected 0, live orders 2",
        spreads=[
            "BTC-USDT: best bid 60000.10 @ kraken, best ask 60000.07 @ binance, spread -0.03 "
            "(-0.00 bps) CROSSED"
        ],
        hints=[
            "metrics: http://127.0.0.1:41234/metrics",
            "control API: off (set [api] enabled = true and a token in --config)",
            "Ctrl-C stops cleanly; the trading switch is SetTradingMode on the control bus",
        ],
    )


def draw(data: ViewData, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    console.print(render_rich(data))
    return console.export_text().splitlines()


def test_narrow_terminal_gets_a_compact_view_that_fits_with_prices_and_hints_intact() -> None:
    data = demo_view_data()
    lines = draw(data, 80, 30)
    drawn = "\n".join(lines)
    assert len(lines) <= 30
    assert max(len(line) for line in lines) <= 80
    assert "…" not in drawn
    for venue in ("bin", "cb", "krk"):
        assert f"{venue} " in drawn
    assert "59999.93 / 60000.12" in drawn
    assert "3000.17 / 3000.22" in drawn
    for hint in data.hints:
        assert hint in lines
    assert "market maker on binance" in drawn
    # The newest orders are kept, as many as fit; the header says how many are shown.
    shown = [o for o in data.orders if o.client_order_id in drawn]
    assert len(shown) >= 3
    assert shown[-1] is data.orders[-1]
    assert shown == data.orders[len(data.orders) - len(shown) :]
    assert f"({len(shown)} of 10)" in drawn
    # A taller terminal shows every order.
    assert all(o.client_order_id in "\n".join(draw(data, 80, 60)) for o in data.orders)


def test_wide_terminal_keeps_the_full_market_table() -> None:
    data = demo_view_data(orders=3)
    drawn = "\n".join(draw(data, 200, 60))
    assert "…" not in drawn
    for text in ("binance", "coinbase", "kraken", "last trade", "59999.93 x 0.04300 sell",
                 "60000.12", "events/s", "queued (lag)", "mm1b2c-2"):  # fmt: skip
        assert text in drawn
    assert " of 3)" not in drawn

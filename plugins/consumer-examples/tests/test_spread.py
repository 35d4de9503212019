"""The spread watcher: merged ticker windows -> best bid and ask over venues, crossings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from tradegw_consumer_examples.spread import SpreadConsumer, SpreadSettings, TopOfBook, best_cross

from tradegw_core.clock import FakeClock
from tradegw_core.observability.metrics import Metrics
from tradegw_core.schema.control import Ack
from tradegw_core.schema.events import EventType, MergedEvent, Ticker, Trade

D = Decimal


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeContext:
    """A ConsumerContext recording subscriptions; the watcher never trades."""

    def __init__(self, ok: bool = True) -> None:
        self.consumer_id = "spread"
        self.settings = None
        self.clock = FakeClock()
        self.log = logging.getLogger("test.spread")
        self.metrics = Metrics()
        self.ok = ok
        self.merged: list[tuple[str, EventType, tuple[str, ...], int, int]] = []

    async def merged_subscribe(
        self,
        symbol: str,
        type: EventType,
        providers: Sequence[str],
        *,
        window_ms: int = 10_000,
        max_count: int = 1000,
    ) -> Ack:
        self.merged.append((symbol, type, tuple(providers), window_ms, max_count))
        return Ack(request_id="s", ok=self.ok, error="" if self.ok else "unknown provider 'x'")

    async def subscribe(self, *args: Any) -> Ack:
        raise AssertionError("the spread watcher only uses merged subscriptions")

    async def submit_order(self, order: Any) -> Any:
        raise AssertionError("the spread watcher never trades")

    async def cancel_order(self, request: Any) -> Any:
        raise AssertionError("the spread watcher never trades")


def ticker(provider: str, bid: str | None, ask: str | None, n: int = 0) -> Ticker:
    return Ticker(
        event_id=f"{provider}-t{n}",
        provider=provider,
        symbol="BTC-USDT",
        venue_symbol="BTC-USDT",
        bid_price=None if bid is None else D(bid),
        ask_price=None if ask is None else D(ask),
    )


def window(*tickers: Ticker, n: int = 1, symbol: str = "BTC-USDT") -> MergedEvent:
    """A complete merge window of tickers, grouped by venue in arrival order."""
    fragments: dict[str, list[Any]] = {}
    for t in tickers:
        fragments.setdefault(t.provider, []).append(t)
    return MergedEvent(
        event_id=f"m{n}",
        provider="merge:Ticker",
        symbol=symbol,
        venue_symbol=symbol,
        seq_provider=n,
        merge_id=f"{symbol}/Ticker/x/{n}",
        merge_type=EventType.TICKER,
        window_open=n,
        window_close=n + 1,
        fragments=fragments,
    )


@pytest.mark.anyio
async def test_asks_for_merged_tickers_of_each_symbol_from_every_venue() -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer(SpreadSettings(symbols=("BTC-USDT", "ETH-USDT"), window_ms=2000))
    await watcher.on_start(ctx)
    venues = ("binance", "coinbase", "kraken")
    assert ctx.merged == [
        ("BTC-USDT", EventType.TICKER, venues, 2000, 1000),
        ("ETH-USDT", EventType.TICKER, venues, 2000, 1000),
    ]


@pytest.mark.anyio
async def test_a_refused_subscription_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    watcher = SpreadConsumer()
    with caplog.at_level(logging.ERROR, logger="test.spread"):
        await watcher.on_start(FakeContext(ok=False))
    assert [r.getMessage() for r in caplog.records] == ["spread.subscribe_failed"]


@pytest.mark.anyio
async def test_best_bid_and_ask_of_a_complete_window_use_each_venues_latest_ticker() -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer()
    await watcher.on_start(ctx)
    await watcher.on_event(
        window(
            ticker("binance", "100.00", "100.10"),
            ticker("kraken", "100.05", "100.12"),  # replaced by kraken's later ticker
            ticker("coinbase", "99.98", "100.06"),
            ticker("kraken", "100.02", "100.12", n=1),
            ticker("binance", None, None, n=1),  # no quote: binance's earlier one counts
        )
    )
    cross = watcher.latest["BTC-USDT"]
    assert (cross.bid_venue, cross.bid, cross.ask_venue, cross.ask) == (
        "kraken",
        D("100.02"),
        "coinbase",
        D("100.06"),
    )
    assert cross.spread == D("0.04")
    assert not cross.crossed
    assert cross.spread_bps == D("4.00")
    assert watcher.windows == 1
    assert ctx.metrics.value("tradegw_example_cross_spread", symbol="BTC-USDT") == pytest.approx(
        0.04
    )


@pytest.mark.anyio
async def test_each_window_replaces_the_previous_one_so_no_quote_goes_stale() -> None:
    watcher = SpreadConsumer()
    await watcher.on_start(FakeContext())
    await watcher.on_event(
        window(ticker("binance", "100.00", "100.10"), ticker("kraken", "100.50", "100.60"))
    )
    assert watcher.latest["BTC-USDT"].crossed  # kraken bids above binance's ask
    await watcher.on_event(
        window(ticker("binance", "101.00", "101.10"), ticker("coinbase", "100.90", "101.20"), n=2)
    )
    cross = watcher.latest["BTC-USDT"]
    assert (cross.bid_venue, cross.ask_venue) == ("binance", "binance")  # kraken's old quote
    assert set(watcher.tops) == {("binance", "BTC-USDT"), ("coinbase", "BTC-USDT")}


@pytest.mark.anyio
async def test_a_crossing_is_counted_and_logged_at_once(caplog: pytest.LogCaptureFixture) -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer(SpreadSettings(log_interval_s=60))
    await watcher.on_start(ctx)
    with caplog.at_level(logging.INFO, logger="test.spread"):
        calm = (ticker("binance", "100.00", "100.10"), ticker("kraken", "100.01", "100.11"))
        await watcher.on_event(window(*calm, n=1))  # first: logged
        await watcher.on_event(window(*calm, n=2))  # within the interval: not
        crossed = (ticker("binance", "100.00", "100.10"), ticker("coinbase", "100.20", "100.30"))
        await watcher.on_event(window(*crossed, n=3))  # crossed: logged
        await watcher.on_event(window(*crossed, n=4))  # still crossed: not
    logged = [r for r in caplog.records if r.getMessage() == "spread.cross"]
    assert len(logged) == 2
    assert logged[1].__dict__["crossed"] is True
    assert logged[1].__dict__["bid_venue"] == "coinbase"
    assert watcher.crossings == 1
    assert watcher.latest["BTC-USDT"].spread == D("-0.10")


@pytest.mark.anyio
async def test_only_merged_ticker_windows_count() -> None:
    watcher = SpreadConsumer()
    await watcher.on_start(FakeContext())
    base: dict[str, Any] = {"symbol": "BTC-USDT", "venue_symbol": "BTCUSDT"}
    await watcher.on_event(ticker("binance", "10", "11"))  # a raw ticker: not a window
    await watcher.on_event(
        Trade(event_id="x", provider="kraken", trade_id="1", price=D(5), qty=D(1), **base)
    )
    trades = window(ticker("binance", "10", "11"))
    trades.merge_type = EventType.TRADE
    await watcher.on_event(trades)
    assert watcher.latest == {}
    assert watcher.windows == 0


def test_best_cross_needs_both_sides_of_the_symbol() -> None:
    tops = {("a", "BTC-USDT"): TopOfBook(D(1), None), ("b", "ETH-USDT"): TopOfBook(None, D(2))}
    assert best_cross("BTC-USDT", tops) is None
    tops[("b", "BTC-USDT")] = TopOfBook(None, D(3))
    cross = best_cross("BTC-USDT", tops)
    assert cross is not None
    assert (cross.bid_venue, cross.ask_venue) == ("a", "b")


@pytest.mark.anyio
async def test_on_stop_logs_the_final_spread(caplog: pytest.LogCaptureFixture) -> None:
    watcher = SpreadConsumer()
    await watcher.on_start(FakeContext())
    await watcher.on_event(
        window(ticker("binance", "100.00", "100.10"), ticker("kraken", "100.01", "100.11"))
    )
    with caplog.at_level(logging.INFO, logger="test.spread"):
        await watcher.on_stop()
    assert [r.getMessage() for r in caplog.records] == ["spread.final"]

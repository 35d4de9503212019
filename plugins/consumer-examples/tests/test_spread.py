"""The spread watcher: best bid and ask over venues, crossings, metrics and logging."""

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
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    Level,
    Ticker,
    Trade,
)

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
        self.subscribed: list[tuple[tuple[str, ...], tuple[str, ...], tuple[EventType, ...]]] = []

    async def subscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType]
    ) -> Ack:
        self.subscribed.append((tuple(providers), tuple(symbols), tuple(types)))
        return Ack(request_id="s", ok=self.ok, error="" if self.ok else "unknown provider 'x'")

    async def unsubscribe(self, *args: Any) -> Ack:
        return Ack(request_id="u", ok=True)

    async def submit_order(self, order: Any) -> Any:
        raise AssertionError("the spread watcher never trades")

    async def cancel_order(self, request: Any) -> Any:
        raise AssertionError("the spread watcher never trades")


def snap(provider: str, bid: str, ask: str, symbol: str = "BTC-USDT") -> BookSnapshot:
    return BookSnapshot(
        event_id=f"{provider}-s",
        provider=provider,
        symbol=symbol,
        venue_symbol=symbol,
        bids=(Level(D(bid), D(1)), Level(D(bid) - 1, D(2))),
        asks=(Level(D(ask), D(1)), Level(D(ask) + 1, D(2))),
    )


@pytest.mark.anyio
async def test_subscribes_the_same_symbols_on_every_venue() -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer(SpreadSettings(symbols=("BTC-USDT", "ETH-USDT")))
    await watcher.on_start(ctx)
    assert ctx.subscribed == [
        (
            ("binance", "coinbase", "kraken"),
            ("BTC-USDT", "ETH-USDT"),
            (EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE),
        )
    ]


@pytest.mark.anyio
async def test_a_refused_subscription_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    watcher = SpreadConsumer()
    with caplog.at_level(logging.ERROR, logger="test.spread"):
        await watcher.on_start(FakeContext(ok=False))
    assert [r.getMessage() for r in caplog.records] == ["spread.subscribe_failed"]


@pytest.mark.anyio
async def test_best_bid_and_ask_across_venues_with_book_updates() -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer()
    await watcher.on_start(ctx)
    await watcher.on_event(snap("binance", "100.00", "100.10"))
    assert watcher.latest["BTC-USDT"].spread == D("0.10")  # one venue is enough
    await watcher.on_event(snap("kraken", "100.02", "100.12"))
    await watcher.on_event(snap("coinbase", "99.98", "100.06"))
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
    # Coinbase's best ask is removed: the next ask (101.06) loses to binance's 100.10.
    await watcher.on_event(
        BookUpdate(
            event_id="u",
            provider="coinbase",
            symbol="BTC-USDT",
            venue_symbol="BTC-USDT",
            asks=(Level(D("100.06"), D(0)),),
        )
    )
    cross = watcher.latest["BTC-USDT"]
    assert (cross.ask_venue, cross.ask) == ("binance", D("100.10"))
    assert ctx.metrics.value("tradegw_example_cross_spread", symbol="BTC-USDT") == pytest.approx(
        0.08
    )


@pytest.mark.anyio
async def test_a_crossing_is_counted_and_logged_at_once(caplog: pytest.LogCaptureFixture) -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer(SpreadSettings(log_interval_s=60))
    await watcher.on_start(ctx)
    with caplog.at_level(logging.INFO, logger="test.spread"):
        await watcher.on_event(snap("binance", "100.00", "100.10"))  # first: logged
        await watcher.on_event(snap("kraken", "100.01", "100.11"))  # within interval: not
        await watcher.on_event(snap("coinbase", "100.20", "100.30"))  # crossed: logged
        await watcher.on_event(snap("coinbase", "100.21", "100.30"))  # still crossed: not
    logged = [r for r in caplog.records if r.getMessage() == "spread.cross"]
    assert len(logged) == 2
    assert logged[1].__dict__["crossed"] is True
    assert logged[1].__dict__["bid_venue"] == "coinbase"
    assert watcher.crossings == 1
    assert watcher.latest["BTC-USDT"].spread == D("-0.11")


@pytest.mark.anyio
async def test_tickers_feed_the_top_and_other_events_are_ignored() -> None:
    ctx = FakeContext()
    watcher = SpreadConsumer(SpreadSettings(types=(EventType.TICKER,)))
    await watcher.on_start(ctx)
    base: dict[str, Any] = {"symbol": "ETH-USDT", "venue_symbol": "ETHUSDT"}
    await watcher.on_event(Ticker(event_id="t0", provider="binance", last_price=D(1), **base))
    await watcher.on_event(
        Trade(event_id="x", provider="kraken", trade_id="1", price=D(5), qty=D(1), **base)
    )
    assert watcher.latest == {}
    await watcher.on_event(
        Ticker(event_id="t1", provider="binance", bid_price=D(10), ask_price=D(11), **base)
    )
    await watcher.on_event(
        Ticker(event_id="t2", provider="kraken", bid_price=D("10.5"), ask_price=D(12), **base)
    )
    cross = watcher.latest["ETH-USDT"]
    assert (cross.bid_venue, cross.ask_venue, cross.spread) == ("kraken", "binance", D("0.5"))


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
    await watcher.on_event(snap("binance", "100.00", "100.10"))
    with caplog.at_level(logging.INFO, logger="test.spread"):
        await watcher.on_stop()
    assert [r.getMessage() for r in caplog.records] == ["spread.final"]

"""Provider and order adapter against the Binance emulator on loopback.

The test owns the market simulator (the emulator does not drive it), so every book change
happens when the test steps it and the venue book can be compared exactly.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest
from tradegw_binance.emulator import BinanceEmulator
from tradegw_binance.orders import BinanceOrderAdapter
from tradegw_binance.provider import BinanceProvider

from tradegw_core.book.stage import BookStageSettings
from tradegw_core.contracts import StreamSpec
from tradegw_core.errors import (
    ControlError,
    DuplicateOrderError,
    OrderOutcomeUnknownError,
    VenueConnectionError,
)
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    ExecReport,
    ExecState,
    KlineSummary,
    Side,
    Ticker,
    Trade,
)
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import AcceptThenTimeout, Close, Drop, Duplicate
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import EventRecorder

BTC = Symbol("BTC-USDT")
D = Decimal


@asynccontextmanager
async def venue(seed: int = 5, lifetime_s: float | None = None, **options: Any) -> Any:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT")], seed=seed)
    cfg = EmulatorConfig(
        venue="binance",
        symbols=("BTC-USDT",),
        simulator=sim,
        connection_lifetime_s=lifetime_s,
        options=options,
    )
    async with BinanceEmulator(cfg) as emu:
        yield emu, sim


@asynccontextmanager
async def market(
    emu: BinanceEmulator, stage_settings: BookStageSettings | None = None, **overrides: Any
) -> Any:
    settings = emu.client_settings(**overrides)
    ctx = RecordingProviderContext("binance", settings, book_settings=stage_settings)
    async with ctx.running(BinanceProvider(ctx, first_diff_wait_s=0.2)) as provider:
        yield provider, ctx


def consumer_book(events: list[Any]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal], int]:
    """The book a consumer builds from the emitted snapshot and updates."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    seq = -1
    for ev in events:
        if isinstance(ev, BookSnapshot):
            bids = {lv.price: lv.qty for lv in ev.bids}
            asks = {lv.price: lv.qty for lv in ev.asks}
            seq = ev.seq_provider or 0
        elif isinstance(ev, BookUpdate):
            assert ev.prev_seq == seq, "a consumer sees a continuous sequence"
            for side, levels in ((bids, ev.bids), (asks, ev.asks)):
                for lv in levels:
                    if lv.qty == 0:
                        side.pop(lv.price, None)
                    else:
                        side[lv.price] = lv.qty
            seq = ev.last_seq or seq
    return bids, asks, seq


async def book_matches_venue(
    ctx: RecordingProviderContext, sim: MarketSimulator, steps: int
) -> None:
    sim.events(steps)
    target = sim.book("binance", "BTC-USDT").seq

    def caught_up() -> bool:
        return consumer_book(ctx.events.items)[2] == target

    await ctx.events.until(caught_up)
    bids, asks, _ = consumer_book(ctx.events.items)
    venue_book = sim.book("binance", "BTC-USDT")
    assert bids == dict(venue_book.bids)
    assert asks == dict(venue_book.asks)


def specs(*types: EventType) -> list[StreamSpec]:
    return [StreamSpec(BTC, t) for t in types]


@pytest.mark.anyio
async def test_subscribe_gives_a_consistent_book_trades_and_tickers() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        assert BTC in provider.instruments()
        await provider.subscribe(specs(EventType.BOOK_UPDATE, EventType.TRADE, EventType.TICKER))
        sim.events(3)
        await ctx.events.until(lambda: any(isinstance(e, BookSnapshot) for e in ctx.events.items))
        await book_matches_venue(ctx, sim, 40)
        await ctx.events.until(lambda: any(isinstance(e, Trade) for e in ctx.events.items))
        tickers = [e for e in ctx.events.items if isinstance(e, Ticker)]
        assert tickers
        assert all(t.bid_price < t.ask_price for t in tickers)
        assert ctx.events.named("book.resync")[0]["reason"] == "initial"
        with pytest.raises(ControlError, match="unknown binance symbol"):
            await provider.subscribe([StreamSpec(Symbol("DOGE-USDT"), EventType.TRADE)])


@pytest.mark.anyio
async def test_24h_ticker_and_klines() -> None:
    async with venue() as (emu, sim), market(emu, ticker_channel="ticker") as (provider, ctx):
        await provider.subscribe(specs(EventType.TICKER, EventType.KLINE_SUMMARY))
        sim.events(40)

        def both() -> bool:
            kinds = {type(e) for e in ctx.events.items}
            return Ticker in kinds and KlineSummary in kinds

        await ctx.events.until(both)
        ticker = next(e for e in ctx.events.items if isinstance(e, Ticker))
        assert ticker.last_price is not None
        assert ticker.volume_24h is not None
        kline = next(e for e in ctx.events.items if isinstance(e, KlineSummary))
        assert kline.interval == "1m"
        assert kline.low <= kline.close <= kline.high


@pytest.mark.anyio
async def test_unsubscribe_stops_delivery_without_dropping_the_connection() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.TRADE, EventType.TICKER, EventType.BOOK_UPDATE))
        sim.events(10)
        await ctx.events.until(lambda: any(isinstance(e, Ticker) for e in ctx.events.items))
        await provider.unsubscribe(specs(EventType.TICKER, EventType.BOOK_UPDATE))
        (conn,) = emu.connections.values()
        assert conn.subscriptions == {"btcusdt@trade"}
        assert ctx.book_stage.get(BTC) is None  # the book stage was closed
        count = len(ctx.events.items)
        sim.events(10)
        await ctx.events.until(lambda: any(isinstance(e, Trade) for e in ctx.events.items[count:]))
        assert not any(isinstance(e, Ticker) for e in ctx.events.items[count:])


@pytest.mark.anyio
async def test_streams_per_connection_limit_opens_another_connection() -> None:
    async with venue() as (emu, _), market(emu, max_streams_per_connection=1) as (provider, _):
        await provider.subscribe(specs(EventType.TRADE, EventType.TICKER))
        subs = sorted(tuple(c.subscriptions) for c in emu.connections.values())
        assert subs == [("btcusdt@bookTicker",), ("btcusdt@trade",)]


@pytest.mark.anyio
async def test_control_messages_are_paced_under_the_venue_limit() -> None:
    sim = MarketSimulator([default_symbol_spec("BTC-USDT"), default_symbol_spec("ETH-USDT")])
    cfg = EmulatorConfig(venue="binance", symbols=("BTC-USDT", "ETH-USDT"), simulator=sim)
    async with BinanceEmulator(cfg) as emu, market(emu) as (provider, ctx):
        types = (EventType.TRADE, EventType.TICKER, EventType.KLINE_SUMMARY)
        for symbol in ("BTC-USDT", "ETH-USDT"):
            for t in types:  # six SUBSCRIBE frames, one after another
                await provider.subscribe([StreamSpec(Symbol(symbol), t)])
        (conn,) = emu.connections.values()  # never disconnected for flooding
        assert len(conn.subscriptions) == 6
        assert not ctx.events.named("ws.reconnect")


@pytest.mark.anyio
async def test_reconcile_callback_counts_nothing_on_a_good_book_and_respects_its_interval() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        assert await provider._reconcile(BTC) == 0  # the refresh callback: nothing differs
        assert await provider._reconcile(BTC) is None  # within refresh_interval_s: skipped


@pytest.mark.anyio
async def test_periodic_refresh_reconciles_and_resyncs_a_divergent_book() -> None:
    quick = BookStageSettings(refresh_min_s=0.2, refresh_max_s=0.3)
    async with venue() as (emu, sim), market(emu, quick, refresh_interval_s=0.1) as (provider, ctx):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        # Corrupt the local book behind the assembler's back: the next refresh must notice.
        book = provider._books["BTCUSDT"].assembler.book
        best = max(book.bids)
        book.set_bid(best, book.bids[best] + 1)
        await ctx.events.until(lambda: bool(ctx.events.named("book.divergence")))
        assert ctx.events.named("book.divergence")[0]["levels"] == 1
        await ctx.events.until(
            lambda: any(t["reason"] == "refresh" for t in ctx.events.named("book.resync"))
        )
        await ctx.events.until(
            lambda: sum(isinstance(e, BookSnapshot) for e in ctx.events.items) == 2
        )
        assert dict(sim.book("binance", "BTC-USDT").bids) == book.as_decimals()[0]


@pytest.mark.anyio
async def test_dropped_diff_is_detected_and_resynced() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        emu.faults.ws(Drop(), match=lambda conn, frame: "depthUpdate" in str(frame), count=1)
        sim.events(1)
        emu.flush_depth()  # this batch is dropped on the wire
        await book_matches_venue(ctx, sim, 5)
        gaps = [t for t in ctx.events.named("book.resync") if t["reason"] == "gap"]
        assert len(gaps) == 1
        assert gaps[0]["symbol"] == BTC
        assert sum(isinstance(e, BookSnapshot) for e in ctx.events.items) == 2


@pytest.mark.anyio
async def test_subscribe_fails_fast_when_the_socket_drops_before_the_ack() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.TRADE))  # the socket exists
        emu.faults.ws(Close(), match=lambda c, f: '"result"' in str(f), count=1)
        with anyio.fail_after(5), pytest.raises(VenueConnectionError, match="closed before"):
            await provider.subscribe(specs(EventType.TICKER))
        # A retry while the socket is down waits for the reconnection, which subscribes it.
        await provider.subscribe(specs(EventType.TICKER))
        assert ctx.events.named("ws.reconnect")
        sim.events(3)
        await ctx.events.until(lambda: any(isinstance(e, Ticker) for e in ctx.events.items))


@pytest.mark.anyio
async def test_duplicated_diff_is_ignored_without_a_resync() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        rule = emu.faults.ws(Duplicate(), match=lambda c, f: "depthUpdate" in str(f), count=1)
        sim.events(1)
        emu.flush_depth()
        await book_matches_venue(ctx, sim, 5)
        assert rule.fired == 1
        assert [t["reason"] for t in ctx.events.named("book.resync")] == ["initial"]


@pytest.mark.anyio
async def test_disconnect_reconnects_resubscribes_and_resyncs() -> None:
    async with venue() as (emu, sim), market(emu) as (provider, ctx):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        emu.faults.ws(Close(), match=lambda conn, frame: "depthUpdate" in str(frame), count=1)
        sim.events(1)
        await ctx.events.until(lambda: bool(ctx.events.named("ws.reconnect")))
        await ctx.events.until(
            lambda: any(t["reason"] == "reconnect" for t in ctx.events.named("book.resync"))
        )
        await book_matches_venue(ctx, sim, 5)
        (conn,) = emu.connections.values()
        assert conn.subscriptions == {"btcusdt@depth@100ms"}


@pytest.mark.anyio
async def test_server_shutdown_rolls_the_connection_over_without_a_resync() -> None:
    async with (
        venue(lifetime_s=0.5, shutdown_grace_s=1.0) as (emu, sim),
        market(emu) as (provider, ctx),
    ):
        await provider.subscribe(specs(EventType.BOOK_UPDATE))
        sim.events(3)
        await book_matches_venue(ctx, sim, 5)
        await ctx.events.until(lambda: bool(ctx.events.named("ws.rollover")))
        await book_matches_venue(ctx, sim, 5)
        reasons = [t["reason"] for t in ctx.events.named("book.resync")]
        assert reasons == ["initial"]  # a planned rollover keeps the book
        assert not ctx.events.named("ws.reconnect")


@pytest.mark.anyio
async def test_a_b_connections_deliver_each_stream_twice() -> None:
    async with venue() as (emu, sim):
        ctx = RecordingProviderContext("binance", emu.client_settings(connections_per_stream=2))
        events = ctx.events
        async with ctx.running(BinanceProvider(ctx)) as provider:
            await provider.subscribe(specs(EventType.TRADE))
            assert len(emu.connections) == 2
            sim.events(30)
            await events.until(lambda: len({e.event_id for e in events.items}) >= 2)
            await events.until(
                lambda: len(events.items) >= 2 * len({e.event_id for e in events.items})
            )


# -- orders ---------------------------------------------------------------------------------


@asynccontextmanager
async def trading(emu: BinanceEmulator) -> Any:
    reports = EventRecorder()
    adapter = BinanceOrderAdapter(emu.client_settings(request_timeout_s=1.0))
    async with anyio.create_task_group() as tg:
        await tg.start(adapter.run, reports)
        yield adapter, reports
        tg.cancel_scope.cancel()


def order(cid: str, qty: Decimal, price: Decimal, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        consumer_id="c1",
        provider="binance",
        symbol="BTC-USDT",
        side=side,
        qty=qty,
        price=price,
    )


def states(reports: EventRecorder, cid: str) -> list[ExecState]:
    return [
        r.state for r in reports.items if isinstance(r, ExecReport) and r.client_order_id == cid
    ]


@pytest.mark.anyio
async def test_order_ack_partial_filled_through_the_user_stream() -> None:
    async with venue() as (emu, sim), trading(emu) as (adapter, reports):
        asks = sim.book("binance", "BTC-USDT").asks
        qty = asks[0][1] + D("0.00001")  # all of the best ask and a bit of the next
        ack = await adapter.submit(order("tg-fill-1", qty, asks[1][0]))
        assert ack.report is not None
        assert ack.report.state is ExecState.FILLED
        await reports.until(lambda: states(reports, "tg-fill-1")[-1:] == [ExecState.FILLED])
        got = [r for r in reports.items if r.client_order_id == "tg-fill-1"]
        assert [r.state for r in got] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
        assert [r.last_qty for r in got] == [0, asks[0][1], D("0.00001")]
        assert got[1].last_price == asks[0][0]
        assert got[2].last_price == asks[1][0]
        assert got[-1].cum_qty == qty
        assert got[-1].leaves_qty == 0
        assert all(r.fee > 0 and r.fee_asset == "USDT" for r in got[1:])


@pytest.mark.anyio
async def test_duplicate_client_order_id_is_not_sent_twice() -> None:
    async with venue() as (emu, sim), trading(emu) as (adapter, reports):
        bid = sim.book("binance", "BTC-USDT").bids[-1][0]
        await adapter.submit(order("tg-dup", D("0.001"), bid))
        with pytest.raises(DuplicateOrderError):
            await adapter.submit(order("tg-dup", D("0.001"), bid))
        await reports.until(lambda: states(reports, "tg-dup") == [ExecState.ACK])
        assert len(emu.engines["BTC-USDT"].open_orders()) == 1
        assert emu.rest_calls["POST /api/v3/order"] == 1  # the second never left the adapter


@pytest.mark.anyio
async def test_submission_that_times_out_is_resolved_by_query() -> None:
    async with venue() as (emu, sim), trading(emu) as (adapter, reports):
        emu.faults.http(
            AcceptThenTimeout(),
            count=1,
            match=lambda req: req.method == "POST" and req.path == "/api/v3/order",
        )
        bid = sim.book("binance", "BTC-USDT").bids[-1][0]
        with pytest.raises(OrderOutcomeUnknownError):
            await adapter.submit(order("tg-lost", D("0.001"), bid))
        report = await adapter.query(BTC, "tg-lost")
        assert report is not None
        assert report.state is ExecState.ACK
        assert report.venue_order_id is not None
        assert len(emu.engines["BTC-USDT"].open_orders()) == 1  # placed once, never resent
        assert emu.rest_calls["POST /api/v3/order"] == 1
        await reports.until(lambda: states(reports, "tg-lost") == [ExecState.ACK])


@pytest.mark.anyio
async def test_user_stream_reconnect_recovers_missed_fills_in_order() -> None:
    async with venue() as (emu, sim), trading(emu) as (adapter, reports):
        bid = sim.book("binance", "BTC-USDT").bids[0][0]
        await adapter.submit(order("tg-rest", D("0.001"), bid))
        await reports.until(lambda: states(reports, "tg-rest") == [ExecState.ACK])
        # Lose the next report and the connection, then let the venue fill the order.
        emu.faults.ws(Close(), match=lambda c, f: "executionReport" in str(f), count=1)
        emu.engines["BTC-USDT"].cancel("main", client_order_id="tg-rest")
        await reports.until(lambda: states(reports, "tg-rest")[-1:] == [ExecState.CANCELLED])
        assert states(reports, "tg-rest") == [ExecState.ACK, ExecState.CANCELLED]
        assert ":rest:" in reports.items[-1].event_id  # recovered by query after the reconnect

"""The provider against the Coinbase emulator on loopback: subscriptions, trades, tickers,
candles, the sequenced book, and a skipped sequence number detected, resynced, reported."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from tradegw_coinbase.provider import CoinbaseProvider
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tradegw_core.contracts import StreamSpec
from tradegw_core.errors import ControlError
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    KlineSummary,
    Level,
    Ticker,
    Trade,
)
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.market import BookDelta, SimTrade

BTC = Symbol("BTC-USD")
pytestmark = pytest.mark.anyio


def _next_trade(venue: Any, symbol: str = "BTC-USD") -> SimTrade:
    for _ in range(2000):
        for event in venue.sim.step():
            if isinstance(event, SimTrade) and event.venue == "coinbase" and event.symbol == symbol:
                return event
    raise AssertionError("no trade in 2000 steps")


def _step_book(venue: Any, symbol: str = "BTC-USD") -> None:
    for _ in range(2000):
        if any(
            isinstance(e, BookDelta) and e.venue == "coinbase" and e.symbol == symbol
            for e in venue.sim.step()
        ):
            return
    raise AssertionError("no book change in 2000 steps")


def _same_book(provider: CoinbaseProvider, venue: Any, symbol: str = "BTC-USD") -> bool:
    asm = provider.assembler(symbol)
    if asm is None or not asm.synced:
        return False
    truth = venue.sim.book("coinbase", symbol)
    mine = asm.book
    return [(lv.price, lv.qty) for lv in mine.top_bids()] == list(truth.bids) and [
        (lv.price, lv.qty) for lv in mine.top_asks()
    ] == list(truth.asks)


async def test_trades_and_tickers_then_unsubscribe(
    coinbase_venue: Any, provider_ctx: Any, sink: Any
) -> None:
    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            assert set(provider.instruments()) == {"BTC-USD", "ETH-USD"}
            assert provider.supported_types() >= {EventType.TRADE, EventType.KLINE_SUMMARY}
            streams = [StreamSpec(BTC, EventType.TRADE), StreamSpec(BTC, EventType.TICKER)]
            await provider.subscribe(streams)
            await provider.subscribe(streams)  # idempotent: nothing new is sent

            sim_trade = _next_trade(venue)
            await sink.wait_for(lambda items: any(isinstance(i, Trade) for i in items))
            await sink.wait_for(lambda items: any(isinstance(i, Ticker) for i in items))
            (trade,) = sink.of(Trade)
            assert trade.trade_id == str(sim_trade.trade_id)
            assert (trade.price, trade.qty) == (sim_trade.price, sim_trade.qty)
            assert trade.side.value == sim_trade.aggressor.value  # maker side inverted back
            ticker = sink.of(Ticker)[-1]
            assert ticker.last_price == sim_trade.price
            assert ticker.bid_price is not None
            assert ticker.ask_price is not None
            assert ticker.bid_price < ticker.ask_price

            await provider.unsubscribe([StreamSpec(BTC, EventType.TRADE)])
            tickers = len(sink.of(Ticker))
            _next_trade(venue)
            await sink.wait_for(lambda items: len(sink.of(Ticker)) > tickers)
            assert len(sink.of(Trade)) == 1  # the trade frame would have come first


async def test_candles_and_unknown_symbols(
    coinbase_venue: Any, provider_ctx: Any, sink: Any
) -> None:
    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            with pytest.raises(ControlError, match="unknown Coinbase symbol"):
                await provider.subscribe([StreamSpec(Symbol("DOGE-USD"), EventType.TRADE)])
            await provider.subscribe([StreamSpec(BTC, EventType.KLINE_SUMMARY)])
            sim_trade = _next_trade(venue)
            await sink.wait_for(lambda items: any(isinstance(i, KlineSummary) for i in items))
            kline = sink.of(KlineSummary)[-1]
            assert kline.interval == "5m"
            assert kline.close == sim_trade.price
            assert kline.open_time <= sim_trade.ts_ns < kline.close_time


async def test_book_follows_the_venue_and_a_skipped_sequence_number_resyncs(
    coinbase_venue: Any, provider_ctx: Any, sink: Any, telemetry: Any
) -> None:
    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 1)
            for _ in range(20):
                _step_book(venue)
            await sink.wait_for(lambda _: _same_book(provider, venue))
            updates = sink.of(BookUpdate)
            assert updates
            assert all(u.prev_seq is not None and u.prev_seq < u.last_seq for u in updates)

            # Fault: the emulator skips one sequence number on the connection.
            venue.emu.skip_sequence(1)
            _step_book(venue)
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 2)
            assert provider.gaps == 1
            (gap,) = telemetry.named("coinbase.sequence_gap")
            assert gap["received"] == gap["expected"] + 1
            resyncs = telemetry.named("book.resync")
            assert [r["reason"] for r in resyncs] == ["gap"]
            assert resyncs[0]["symbol"] == "BTC-USD"
            first, second = sink.of(BookSnapshot)
            assert first.event_id != second.event_id
            assert second.seq_provider > first.seq_provider
            for _ in range(10):
                _step_book(venue)
            await sink.wait_for(lambda _: _same_book(provider, venue))

            # Reconcile against the REST product book: identical books, no divergence.
            assert await provider._reconcile(BTC) == 0
            assert await provider._reconcile(BTC) is None  # refresh_interval_s not over
            asm = provider.assembler("BTC-USD")
            assert asm is not None
            tick, level = next(iter(asm._bids.levels.items()))  # corrupt one level in place
            asm._bids.levels[tick] = Level(level.price, Decimal("123"))
            provider._reconciled.clear()
            assert await provider._reconcile(BTC) == 1
            await provider.unsubscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
            assert provider.assembler("BTC-USD") is None


async def test_reconnect_resubscribes_and_replaces_the_book(
    coinbase_venue: Any, provider_ctx: Any, sink: Any, telemetry: Any
) -> None:
    from tradegw_core.net.backoff import Backoff
    from tradegw_core.sim.faults import Close

    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        fast = {"backoff": Backoff(base_s=0.01, cap_s=0.05)}
        async with ctx.running(CoinbaseProvider(ctx, ws_options=fast)) as provider:
            await provider.subscribe(
                [StreamSpec(BTC, EventType.BOOK_UPDATE), StreamSpec(BTC, EventType.TICKER)]
            )
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 1)
            venue.emu.faults.ws(Close(), match=lambda conn, frame: b'"l2_data"' in frame)
            _step_book(venue)
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 2)
            assert telemetry.named("coinbase.reconnect")
            assert [r["reason"] for r in telemetry.named("book.resync")] == ["reconnect"]
            for _ in range(10):
                _step_book(venue)
            await sink.wait_for(lambda _: _same_book(provider, venue))
            tickers = len(sink.of(Ticker))
            _next_trade(venue)  # the ticker subscription came back too
            await sink.wait_for(lambda items: len(sink.of(Ticker)) > tickers)


async def test_redundant_connections_deliver_identical_trade_ids(
    coinbase_venue: Any, provider_ctx: Any, sink: Any
) -> None:
    async with coinbase_venue(connections_per_stream=2) as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            await provider.subscribe([StreamSpec(BTC, EventType.TRADE)])
            _next_trade(venue)
            await sink.wait_for(lambda items: len(sink.of(Trade)) == 2)
            a, b = sink.of(Trade)
            assert a.event_id == b.event_id  # downstream dedup keeps the first copy


async def test_refused_or_unacked_subscribe_raises_and_is_forgotten(
    coinbase_venue: Any, provider_ctx: Any, telemetry: Any
) -> None:
    from tradegw_core.errors import VenueConnectionError, VenueRejectedError
    from tradegw_core.sim.faults import Corrupt, Drop

    refusal = b'{"type":"error","message":"failure to subscribe"}'
    async with coinbase_venue(ack_timeout_s=0.3) as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            is_ack = lambda conn, frame: b'"subscriptions"' in frame  # noqa: E731
            venue.emu.faults.ws(Corrupt(fn=lambda frame: refusal), match=is_ack)
            with pytest.raises(VenueRejectedError, match="failure to subscribe"):
                await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
            assert provider.assembler("BTC-USD") is None
            assert provider.wanted_channels(True) == {}
            assert telemetry.named("coinbase.ws_error")
            venue.emu.faults.ws(Drop(), match=is_ack)
            with pytest.raises(VenueConnectionError, match="did not ack"):
                await provider.subscribe([StreamSpec(BTC, EventType.TICKER)])
            assert provider.wanted_channels(True) == {}


async def test_a_dropped_frame_is_a_gap_too(
    coinbase_venue: Any, provider_ctx: Any, sink: Any, telemetry: Any
) -> None:
    from tradegw_core.sim.faults import Drop

    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 1)
            venue.emu.faults.ws(Drop(), match=lambda conn, frame: b'"update"' in frame)
            _step_book(venue)  # this update is lost
            _step_book(venue)  # the next one reveals the gap
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 2)
            assert [r["reason"] for r in telemetry.named("book.resync")] == ["gap"]
            await sink.wait_for(lambda _: _same_book(provider, venue))


async def test_unreadable_book_frame_resyncs_instead_of_guessing(
    coinbase_venue: Any, provider_ctx: Any, sink: Any, telemetry: Any
) -> None:
    from tradegw_core.sim.faults import Corrupt

    def garble(frame: str | bytes) -> bytes:
        text = frame.decode() if isinstance(frame, bytes) else frame
        return text.replace('"new_quantity":"', '"new_quantity":"x', 1).encode()

    async with coinbase_venue() as venue:
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 1)
            venue.emu.faults.ws(Corrupt(fn=garble), match=lambda conn, frame: b'"update"' in frame)
            _step_book(venue)
            await sink.wait_for(lambda items: len(sink.of(BookSnapshot)) == 2)
            assert ctx.rejects.counts == {"value": 1}  # counted once, that book resynced
            assert [r["reason"] for r in telemetry.named("book.resync")] == ["rejected"]
            assert provider.gaps == 0  # the sequence was fine; the content was not
            await sink.wait_for(lambda _: _same_book(provider, venue))


async def test_control_messages_are_paced_under_the_venue_limit(
    coinbase_venue: Any, provider_ctx: Any, telemetry: Any
) -> None:
    """13+ (un)subscribes on one socket go out at most 8 per second: never closed for it."""
    types = (EventType.TRADE, EventType.TICKER, EventType.KLINE_SUMMARY)
    async with coinbase_venue() as venue:
        start = anyio.current_time()
        ctx = provider_ctx(venue.settings)
        async with ctx.running(CoinbaseProvider(ctx)) as provider:
            with anyio.fail_after(5):
                for t in types:
                    for symbol in (BTC, Symbol("ETH-USD")):  # one message per stream
                        await provider.subscribe([StreamSpec(symbol, t)])
                for t in types:
                    for symbol in (BTC, Symbol("ETH-USD")):
                        await provider.unsubscribe([StreamSpec(symbol, t)])
            elapsed = anyio.current_time() - start
            (conn,) = [c for c in venue.emu.connections.values() if c.frames_received > 8]
            sent = conn.frames_received
            assert sent >= 12 + 1  # the subscribes, the unsubscribes, heartbeats
            assert venue.emu.rate_limited == 0
            assert not telemetry.named("ws.reconnect")
            # the first 8 may burst, every further one waits its 1/8 s
            assert elapsed >= (sent - 8) / 8 - 0.05


async def test_emulator_closes_a_socket_flooding_more_than_8_messages_a_second(
    coinbase_venue: Any,
) -> None:
    sub = '{"type": "subscribe", "channel": "heartbeats"}'
    async with coinbase_venue() as venue, connect(venue.emu.ws_url) as ws:
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await _flood(ws, sub, 12)  # unpaced: more than 8 within well under a second
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert venue.emu.rate_limited == 1


async def _flood(ws: Any, frame: str, count: int) -> None:
    for _ in range(count):
        await ws.send(frame)
    while True:
        await ws.recv()

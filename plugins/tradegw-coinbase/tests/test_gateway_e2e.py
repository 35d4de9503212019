"""End to end through the real Gateway: the Coinbase plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tradegw_coinbase.emulator import CoinbaseEmulator

from tradegw_core.schema.events import BookSnapshot, EventType, ExecState, Side, Trade
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, SimTrade, default_symbol_spec
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.recorders import RecordingConsumer

pytestmark = pytest.mark.anyio


async def test_consumer_gets_market_data_and_its_order_fills(tmp_path: Path) -> None:
    consumer = RecordingConsumer(
        ["coinbase"], ["BTC-USD"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
    )
    sim = MarketSimulator([default_symbol_spec("BTC-USD")], seed=5, rate=50)
    config = EmulatorConfig(venue="coinbase", symbols=("BTC-USD",), seed=5, simulator=sim)
    async with CoinbaseEmulator(config) as emu:
        settings = emu.client_settings()
        async with venue_gateway(
            "coinbase", settings, consumer,
            consumer_name="coinbase-e2e", journal_path=tmp_path / "journal.sqlite3",
        ):  # fmt: skip
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            await consumer.until(lambda: bool(consumer.of(BookSnapshot)))
            while not any(isinstance(e, SimTrade) for e in sim.step()):
                pass
            await consumer.until(lambda: bool(consumer.of(Trade)))

            book = sim.book("coinbase", "BTC-USD", depth=1)
            price = book.asks[0][0]
            rest = Decimal("0.01")
            order = OrderRequest(
                client_order_id="cb-e2e-0001", consumer_id="coinbase-e2e", provider="coinbase",
                symbol="BTC-USD", side=Side.BUY, qty=book.asks[0][1] + rest, price=price,
            )  # fmt: skip
            result = await consumer.ctx.submit_order(order)
            assert result.status is OrderStatus.ACCEPTED, result
            await consumer.until(
                lambda: any(r.state is ExecState.PARTIAL for r in consumer.reports)
            )
            emu.ledger.deposit("other", "BTC", Decimal(1))
            emu.engines["BTC-USD"].place("other", "x-1", Side.SELL, rest, price)
            await consumer.until(lambda: any(r.state is ExecState.FILLED for r in consumer.reports))
            states = [r.state for r in consumer.reports]
            assert states == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
            assert consumer.reports[-1].cum_qty == order.qty
            again = await consumer.ctx.submit_order(order)
            assert again.status is OrderStatus.DUPLICATE
            assert emu.desk.creates == 1

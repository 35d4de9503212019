"""End to end through the real Gateway: the Binance plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tradegw_binance.emulator import BinanceEmulator

from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, ExecState, Side, Trade
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import SimTrade
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.recorders import RecordingConsumer

pytestmark = pytest.mark.anyio


async def test_consumer_gets_market_data_and_its_order_fills(tmp_path: Path) -> None:
    consumer = RecordingConsumer(
        ["binance"], ["BTC-USDT"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
    )
    config = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), seed=13, rate=0.001)
    async with BinanceEmulator(config) as emu:
        settings = emu.client_settings()
        async with venue_gateway(
            "binance", settings, consumer,
            consumer_name="binance-e2e", journal_path=tmp_path / "journal.sqlite3",
        ):  # fmt: skip
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            emu.sim.step()  # a first diff, then the REST snapshot
            await consumer.until(lambda: bool(consumer.of(BookSnapshot)))
            assert not consumer.of(BookUpdate)  # not subscribed
            while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
                pass
            await consumer.until(lambda: bool(consumer.of(Trade)))

            asks = emu.sim.book("binance", "BTC-USDT").asks
            qty = asks[0][1] + Decimal("0.00001")
            order = OrderRequest(
                client_order_id="tg-e2e-0001", consumer_id="binance-e2e", provider="binance",
                symbol="BTC-USDT", side=Side.BUY, qty=qty, price=asks[1][0],
            )  # fmt: skip
            result = await consumer.ctx.submit_order(order)
            assert result.status is OrderStatus.ACCEPTED, result
            await consumer.until(lambda: any(r.state is ExecState.FILLED for r in consumer.reports))
            states = [r.state for r in consumer.reports]
            assert states == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
            assert consumer.reports[-1].cum_qty == qty
            again = await consumer.ctx.submit_order(order)
            assert again.status is OrderStatus.DUPLICATE
            placed = emu.engines["BTC-USDT"].order("main", client_order_id="tg-e2e-0001")
            assert placed is not None
            assert placed.state.value == "filled"

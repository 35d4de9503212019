"""End to end through the real Gateway: the Kraken plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tradegw_kraken.emulator import KrakenEmulator

from tradegw_core.schema.events import BookSnapshot, EventType, ExecState, Side, Trade
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import SimTrade
from tradegw_core.testing.harness import venue_gateway
from tradegw_core.testing.recorders import RecordingConsumer

pytestmark = pytest.mark.anyio


async def test_consumer_gets_market_data_and_its_order_fills(tmp_path: Path) -> None:
    consumer = RecordingConsumer(
        ["kraken"], ["BTC-USD"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
    )
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD",), seed=13, rate=0.001)
    async with KrakenEmulator(config) as emu:
        settings = emu.client_settings()
        async with venue_gateway(
            "kraken", settings, consumer,
            consumer_name="kraken-e2e", journal_path=tmp_path / "journal.sqlite3",
        ):  # fmt: skip
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            await consumer.until(lambda: bool(consumer.of(BookSnapshot)))
            while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
                pass
            await consumer.until(lambda: bool(consumer.of(Trade)))

            ask1, ask2 = emu.books["BTC-USD"].top("asks", 2)
            qty = ask1.qty + (ask2.qty / 2).quantize(Decimal("0.00001"))
            order = OrderRequest(
                client_order_id="tg-e2e-0001", consumer_id="kraken-e2e", provider="kraken",
                symbol="BTC-USD", side=Side.BUY, qty=qty, price=ask2.price,
            )  # fmt: skip
            result = await consumer.ctx.submit_order(order)
            assert result.status is OrderStatus.ACCEPTED, result
            await consumer.until(lambda: any(r.state is ExecState.FILLED for r in consumer.reports))
            states = [r.state for r in consumer.reports]
            assert states == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
            assert consumer.reports[-1].cum_qty == qty
            again = await consumer.ctx.submit_order(order)
            assert again.status is OrderStatus.DUPLICATE
            assert emu.rest.calls["AddOrder"] == 1

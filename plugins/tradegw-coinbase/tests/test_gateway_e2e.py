"""End to end through the real Gateway: the Coinbase plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradegw_coinbase.emulator import CoinbaseEmulator

from tradegw_core.schema.events import (
    BookSnapshot,
    Event,
    EventType,
    ExecReport,
    ExecState,
    Side,
    Trade,
)
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, SimTrade, default_symbol_spec

pytestmark = pytest.mark.anyio
gateway_mod = pytest.importorskip("tradegw_core.gateway", reason="the gateway is not built yet")


class E2EConsumer:
    """Subscribes on start; records events and reports; the test drives the order."""

    def __init__(self) -> None:
        self.ctx: Any = None
        self.events: list[Event] = []
        self.reports: list[ExecReport] = []
        self.changed = anyio.Event()
        self.ack: Any = None

    async def on_start(self, ctx: Any) -> None:
        self.ctx = ctx
        self.ack = await ctx.subscribe(
            ["coinbase"], ["BTC-USD"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
        )

    async def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def on_exec_report(self, report: ExecReport) -> None:
        self.reports.append(report)
        self.changed.set()

    async def on_stop(self) -> None:
        return None

    async def until(self, pred: Any) -> None:
        with anyio.fail_after(10):
            while True:
                self.changed = anyio.Event()
                if pred():
                    return
                await self.changed.wait()


async def test_consumer_gets_market_data_and_its_order_fills(tmp_path: Path) -> None:
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.plugin.registries import Registries

    consumer = E2EConsumer()
    sim = MarketSimulator([default_symbol_spec("BTC-USD")], seed=5, rate=50)
    config = EmulatorConfig(venue="coinbase", symbols=("BTC-USD",), seed=5, simulator=sim)
    async with CoinbaseEmulator(config) as emu:
        creds = emu.credentials[0]
        regs = Registries()
        regs.consumers.add("coinbase-e2e", lambda settings: consumer, plugin_id="test")
        loaded = load_config_mapping(
            {
                "plugins": {"enabled": ["coinbase"]},
                "gateway": {"providers": ["coinbase"], "consumers": ["coinbase-e2e"]},
                "metrics": {"enabled": False},
                "orders": {"journal_path": str(tmp_path / "journal.sqlite3"), "risk_checks": []},
                "providers": {
                    "coinbase": {
                        "ws_market_url": emu.ws_url, "ws_user_url": emu.ws_url,
                        "rest_url": emu.rest_url, "api_key_name": creds.api_key,
                        "api_private_key": creds.api_secret, "symbols": ["BTC-USD"],
                    }
                },
            },
            registries=regs,
        )  # fmt: skip
        async with gateway_mod.Gateway(loaded.settings, loaded.registries):
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            await consumer.until(lambda: any(isinstance(e, BookSnapshot) for e in consumer.events))
            while not any(isinstance(e, SimTrade) for e in sim.step()):
                pass
            await consumer.until(lambda: any(isinstance(e, Trade) for e in consumer.events))

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

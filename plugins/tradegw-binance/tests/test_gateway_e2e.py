"""End to end through the real Gateway: the Binance plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradegw_binance.emulator import BinanceEmulator

from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    ExecState,
    Side,
    Trade,
)
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import SimTrade

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
            ["binance"], ["BTC-USDT"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
        )
        self.changed.set()

    async def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def on_exec_report(self, report: ExecReport) -> None:
        self.reports.append(report)
        self.changed.set()

    async def on_stop(self) -> None:
        return None

    async def until(self, pred: Any, step: Any = None) -> None:
        with anyio.fail_after(10):
            while True:
                self.changed = anyio.Event()
                if pred():
                    return
                if step is not None:
                    step()
                await self.changed.wait()


async def test_consumer_gets_market_data_and_its_order_fills(tmp_path: Path) -> None:
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.plugin.registries import Registries

    consumer = E2EConsumer()
    config = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), seed=13, rate=0.001)
    async with BinanceEmulator(config) as emu:
        creds = emu.credentials[0]
        regs = Registries()
        regs.consumers.add("binance-e2e", lambda settings: consumer, plugin_id="test")
        loaded = load_config_mapping(
            {
                "plugins": {"enabled": ["binance"]},
                "gateway": {"providers": ["binance"], "consumers": ["binance-e2e"]},
                "metrics": {"enabled": False},
                "orders": {"journal_path": str(tmp_path / "journal.sqlite3"), "risk_checks": []},
                "providers": {
                    "binance": {
                        "rest_url": emu.rest_url, "ws_url": emu.ws_url,
                        "ws_api_url": emu.ws_api_url, "api_key": creds.api_key,
                        "api_secret": creds.api_secret, "symbols": ["BTC-USDT"],
                    }
                },
            },
            registries=regs,
        )  # fmt: skip
        async with gateway_mod.Gateway(loaded.settings, loaded.registries):
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            emu.sim.step()  # a first diff, then the REST snapshot
            await consumer.until(lambda: any(isinstance(e, BookSnapshot) for e in consumer.events))
            assert not any(isinstance(e, BookUpdate) for e in consumer.events)  # not subscribed
            while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
                pass
            await consumer.until(lambda: any(isinstance(e, Trade) for e in consumer.events))

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

"""End to end through the real Gateway: the Kraken plugin found by its entry point, a
consumer subscribing to trades and a book, and its order going ACK -> PARTIAL -> FILLED."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradegw_kraken.emulator import KrakenEmulator

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
from tradegw_core.sim.market import SimTrade

pytestmark = pytest.mark.anyio
gateway_mod = pytest.importorskip("tradegw_core.gateway", reason="the gateway is not built yet")


class E2EConsumer:
    """Subscribes on start; records events and reports; the test drives the order."""

    def __init__(self, settings: Any = None) -> None:
        self.ctx: Any = None
        self.events: list[Event] = []
        self.reports: list[ExecReport] = []
        self.changed = anyio.Event()
        self.ack: Any = None

    async def on_start(self, ctx: Any) -> None:
        self.ctx = ctx
        self.ack = await ctx.subscribe(
            ["kraken"], ["BTC-USD"], [EventType.TRADE, EventType.BOOK_SNAPSHOT]
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
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD",), seed=13, rate=0.001)
    async with KrakenEmulator(config) as emu:
        creds = emu.credentials[0]
        regs = Registries()
        regs.consumers.add("kraken-e2e", lambda settings: consumer, plugin_id="test")
        loaded = load_config_mapping(
            {
                "plugins": {"enabled": ["kraken"]},
                "gateway": {"providers": ["kraken"], "consumers": ["kraken-e2e"]},
                "metrics": {"enabled": False},
                "orders": {"journal_path": str(tmp_path / "journal.sqlite3"), "risk_checks": []},
                "providers": {
                    "kraken": {
                        "ws_public_url": emu.ws_url, "ws_auth_url": emu.ws_url,
                        "rest_url": emu.rest_url, "api_key": creds.api_key,
                        "api_secret": creds.api_secret, "symbols": ["BTC-USD"],
                    }
                },
            },
            registries=regs,
        )  # fmt: skip
        async with gateway_mod.Gateway(loaded.settings, loaded.registries):
            await consumer.until(lambda: consumer.ack is not None)
            assert consumer.ack.ok, consumer.ack.error
            await consumer.until(lambda: any(isinstance(e, BookSnapshot) for e in consumer.events))
            while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
                pass
            await consumer.until(lambda: any(isinstance(e, Trade) for e in consumer.events))

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

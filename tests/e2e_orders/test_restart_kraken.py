"""The restart scenario on the Kraken emulator (its order adapter needs ``run`` to have
started before it can query: reconciliation must come after the adapters start).

Gateway #1 places two resting orders and stops; the venue cancels one while it is down.
Gateway #2, on the same journal, tells the consumer the cancelled order's final state and
the other's live state, answers a resubmission with DUPLICATE (no ``AddOrder``), and its
``executions`` stream is live: a cancel through the gateway is reported back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tradegw_kraken.emulator import KrakenEmulator

from tradegw_core.config.loader import LoadedConfig, load_config_mapping
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig

from .harness import SYMBOL, RecordingConsumer, static_market

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]

NAME = "strategy"
VENUE = "kraken"


def _config(emu: KrakenEmulator, journal: Path, consumer: Any) -> LoadedConfig:
    regs = Registries()
    regs.consumers.add(NAME, lambda settings: consumer, plugin_id="e2e-orders")
    creds = emu.credentials[0]
    return load_config_mapping(
        {
            "plugins": {"enabled": [VENUE]},
            "gateway": {"providers": [VENUE], "consumers": [NAME], "required_providers": [VENUE]},
            "metrics": {"enabled": False},
            "orders": {"journal_path": str(journal), "risk_checks": []},
            "providers": {
                VENUE: {
                    "ws_public_url": emu.ws_url, "ws_auth_url": emu.ws_url,
                    "rest_url": emu.rest_url, "api_key": creds.api_key,
                    "api_secret": creds.api_secret, "symbols": [SYMBOL],
                }
            },
        },
        registries=regs,
    )  # fmt: skip


def _resting_buy(emu: KrakenEmulator, coid: str, ticks_below: int) -> OrderRequest:
    spec = emu.sim.specs[SYMBOL]
    best_bid = emu.sim.book(VENUE, SYMBOL, depth=1).bids[0][0]
    return OrderRequest(
        client_order_id=coid, consumer_id=NAME, provider=VENUE, symbol=SYMBOL, side=Side.BUY,
        qty=spec.lot * 1000, price=best_bid - spec.tick * ticks_below * 10,
    )  # fmt: skip


async def test_restart_on_kraken(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    config = EmulatorConfig(venue=VENUE, symbols=(SYMBOL,), seed=3, simulator=static_market())
    async with KrakenEmulator(config) as emu:
        keep = _resting_buy(emu, "kr-keep-01", 20)
        gone = _resting_buy(emu, "kr-gone-01", 30)
        first = RecordingConsumer(NAME)
        loaded = _config(emu, journal, first)
        async with Gateway(loaded.settings, loaded.registries):
            for order in (keep, gone):
                result = await first.ctx.submit_order(order)
                assert result.status is OrderStatus.ACCEPTED, result
            await first.until(
                lambda: (
                    first.states(keep.client_order_id) == [ExecState.ACK]
                    and first.states(gone.client_order_id) == [ExecState.ACK]
                )
            )
        assert emu.rest.calls["AddOrder"] == 2

        account = emu.credentials[0].account
        emu.engines[SYMBOL].cancel(account, client_order_id=gone.client_order_id)

        second = RecordingConsumer(NAME)
        loaded = _config(emu, journal, second)
        async with Gateway(loaded.settings, loaded.registries):
            await second.until(lambda: len(second.reports) >= 2)
            assert second.states(gone.client_order_id) == [ExecState.CANCELLED]
            assert second.states(keep.client_order_id) == [ExecState.ACK]

            again = await second.ctx.submit_order(keep)
            assert again.status is OrderStatus.DUPLICATE, again
            again = await second.ctx.submit_order(gone)
            assert again.status is OrderStatus.DUPLICATE, again
            assert again.state is ExecState.CANCELLED

            cancel = await second.ctx.cancel_order(
                CancelRequest(
                    client_order_id=keep.client_order_id,
                    consumer_id=NAME,
                    provider=VENUE,
                    symbol=SYMBOL,
                )
            )
            assert cancel.ok, cancel
            await second.until(lambda: ExecState.CANCELLED in second.states(keep.client_order_id))
        assert emu.rest.calls["AddOrder"] == 2  # nothing was sent again

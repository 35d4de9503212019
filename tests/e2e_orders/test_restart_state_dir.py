"""A gateway restarted against a restarted emulator that kept its state (``--state-dir``).

Gateway #1 rests two orders on the Binance emulator and stops; the emulator stops too
(writing its state). A new emulator starts from the same state directory and Gateway #2
starts on the same journal: reconciliation finds both orders on the venue at the first
query (no unknown outcome, none of the ~16 s of "no such order" retries), they are still
open with their balance locked, and the restarted gateway can cancel one.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradegw_binance.emulator import BinanceEmulator

from tradegw_core.config.loader import LoadedConfig, load_config_mapping
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderStatus
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

from .harness import RecordingConsumer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

NAME = "strategy"
VENUE = "binance"
SYMBOL = "BTC-USDT"


def _emulator(state_dir: Path) -> BinanceEmulator:
    sim = MarketSimulator([default_symbol_spec(SYMBOL)], seed=3, rate=1.0)  # static
    return BinanceEmulator(
        EmulatorConfig(venue=VENUE, symbols=(SYMBOL,), simulator=sim, state_dir=state_dir)
    )


def _config(emu: BinanceEmulator, journal: Path, consumer: Any) -> LoadedConfig:
    regs = Registries()
    regs.consumers.add(NAME, lambda settings: consumer, plugin_id="e2e-orders")
    cred = emu.credentials[0]
    return load_config_mapping(
        {
            "plugins": {"enabled": [VENUE]},
            "gateway": {"providers": [VENUE], "consumers": [NAME], "required_providers": [VENUE]},
            "metrics": {"enabled": False},
            "orders": {"journal_path": str(journal), "risk_checks": []},
            "providers": {
                VENUE: {
                    "rest_url": emu.rest_url,
                    "ws_url": f"{emu.ws_url}/stream",
                    "ws_api_url": emu.ws_api_url,
                    "api_key": cred.api_key,
                    "api_secret": cred.api_secret,
                    "symbols": [SYMBOL],
                }
            },
        },
        registries=regs,
    )


def _buy(emu: BinanceEmulator, coid: str, ticks_below: int) -> OrderRequest:
    spec = emu.sim.specs[SYMBOL]
    best_bid = emu.sim.book(VENUE, SYMBOL, depth=1).bids[0][0]
    return OrderRequest(
        client_order_id=coid,
        consumer_id=NAME,
        provider=VENUE,
        symbol=SYMBOL,
        side=Side.BUY,
        qty=Decimal("0.001"),
        price=best_bid - spec.tick * ticks_below * 100,
    )


async def test_restart_with_state_dir_reconciles_at_once(tmp_path: Path) -> None:
    journal, state = tmp_path / "journal.sqlite3", tmp_path / "state"
    async with _emulator(state) as emu:
        orders = [_buy(emu, "sd-keep-0001", 5), _buy(emu, "sd-cncl-0001", 6)]
        first = RecordingConsumer(NAME)
        loaded = _config(emu, journal, first)
        async with Gateway(loaded.settings, loaded.registries):
            for order in orders:
                result = await first.ctx.submit_order(order)
                assert result.status is OrderStatus.ACCEPTED, result
            await first.until(
                lambda: all(first.states(o.client_order_id) == [ExecState.ACK] for o in orders)
            )
        locked = emu.ledger.balance("main", "USDT").locked
        assert locked > 0
    assert (state / "binance.json").is_file()

    async with _emulator(state) as emu:
        assert emu.ledger.balance("main", "USDT").locked == locked
        second = RecordingConsumer(NAME)
        loaded = _config(emu, journal, second)
        started = anyio.current_time()
        async with Gateway(loaded.settings, loaded.registries):
            await second.until(lambda: len(second.reports) >= 2)
            elapsed = anyio.current_time() - started
            assert elapsed < 4.0  # found at the first query: no "unknown outcome" retries
            assert {(r.client_order_id, r.state) for r in second.reports} == {
                ("sd-keep-0001", ExecState.ACK),
                ("sd-cncl-0001", ExecState.ACK),
            }
            cancel = await second.ctx.cancel_order(
                CancelRequest(
                    client_order_id="sd-cncl-0001", consumer_id=NAME, provider=VENUE, symbol=SYMBOL
                )
            )
            assert cancel.ok, cancel
            await second.until(lambda: ExecState.CANCELLED in second.states("sd-cncl-0001"))
        kept = emu.engines[SYMBOL].open_orders("main")
        assert [e.client_order_id for e in kept] == ["sd-keep-0001"]

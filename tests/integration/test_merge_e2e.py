"""Windowed merge end to end: the three venue emulators on loopback, one shared market.

A consumer asks for BTC-USDT trades from Binance, Coinbase and Kraken merged into 250 ms
windows and receives MergedEvents holding trades of all three. Then the Coinbase emulator
stalls its trade feed (fault plan): the windows without Coinbase are suppressed and
counted, and once the stall ends merging resumes. Every wait is bounded; none sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.config.loader import compose_from_registries
from tradegw_core.config.validation import validate_section
from tradegw_core.demo.runner import client_settings_for
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import EventType, MergedEvent, Trade
from tradegw_core.sim.emulator import Emulator, EmulatorConfig
from tradegw_core.sim.faults import Stall
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.testing.recorders import RecordingConsumer

VENUES = ("binance", "coinbase", "kraken")
SYMBOL = "BTC-USDT"
WINDOW_MS = 250
SKEW_MS = 300
STALL_S = 1.5


def registries(consumer: RecordingConsumer) -> Registries:
    installed = {i.id for i in list_installed() if not i.error}
    missing = [v for v in VENUES if v not in installed]
    if missing:
        pytest.skip(f"venue plugins not installed: {', '.join(missing)}")
    regs = Registries()
    load_plugins(list(VENUES), regs)
    regs.consumers.add("merger", lambda _settings: consumer, plugin_id="test")
    regs.freeze()
    return regs


@asynccontextmanager
async def three_venues(
    regs: Registries, journal: Path
) -> AsyncIterator[tuple[Gateway, dict[str, Emulator]]]:
    # 80 steps/s, a trade per venue with p=0.3 per step: ~6 trades per venue per window.
    sim = MarketSimulator([default_symbol_spec(SYMBOL)], seed=7, rate=80)
    async with anyio.create_task_group() as tg:
        emus: dict[str, Emulator] = {}
        for venue in VENUES:
            config = EmulatorConfig(venue=venue, symbols=(SYMBOL,), seed=7, simulator=sim)
            emus[venue] = regs.emulators.get(venue)(config)
            await tg.start(emus[venue].serve)
        tg.start_soon(sim.run)
        data: dict[str, Any] = {
            "gateway": {"providers": list(VENUES), "consumers": ["merger"]},
            "metrics": {"enabled": False},
            "logging": {"level": "WARNING"},
            "orders": {"journal_path": str(journal)},
            "merge": {"allowed_skew_ms": SKEW_MS},
            "providers": {v: client_settings_for(e) for v, e in emus.items()},
        }
        settings = validate_section(compose_from_registries(regs), data)
        async with Gateway(settings, regs) as gw:
            yield gw, emus
        tg.cancel_scope.cancel()


def complete(events: list[Any]) -> list[MergedEvent]:
    return [
        e for e in events if isinstance(e, MergedEvent) and all(e.fragments.get(v) for v in VENUES)
    ]


@pytest.mark.anyio
async def test_merged_trades_from_three_emulators_suppressed_while_one_stalls(
    tmp_path: Path,
) -> None:
    rec = RecordingConsumer()
    regs = registries(rec)
    with anyio.fail_after(40):
        async with three_venues(regs, tmp_path / "journal.sqlite3") as (gw, emus):
            await rec.until(lambda: rec.ctx is not None)
            ack = await rec.ctx.merged_subscribe(
                SYMBOL, EventType.TRADE, VENUES, window_ms=WINDOW_MS, max_count=10_000
            )
            assert ack.ok, ack.error

            await rec.until(lambda: len(complete(rec.events)) >= 2)
            first = complete(rec.events)[0]
            assert first.merge_type is EventType.TRADE
            assert first.window_close - first.window_open == WINDOW_MS * 1_000_000
            for venue in VENUES:
                trades = first.fragments[venue]
                assert all(isinstance(t, Trade) and t.provider == venue for t in trades)
                assert all(first.window_open <= (t.ts_exchange or 0) for t in trades)
            assert all(isinstance(e, MergedEvent) for e in rec.events)  # merged only

            async with gw.telemetry.subscribe("test", buffer=1024) as ops:
                stall = emus["coinbase"].faults.ws(
                    Stall(STALL_S), match=lambda conn, frame: '"market_trades"' in str(frame)
                )
                while True:
                    item = await ops.__anext__()
                    if item.name == "merge.suppressed_partial" and "coinbase" in str(
                        item.labels.get("missing_providers")
                    ):
                        break
            assert stall.fired == 1
            assert item.labels["merge_key"] == "BTC-USDT/Trade"
            suppressed = gw.metrics.value(
                "tradegw_merge_windows_suppressed_total", merge_key="BTC-USDT/Trade"
            )
            assert suppressed is not None
            assert suppressed >= 1
            assert gw.telemetry.count("merge.suppressed_partial") >= 1

            # Merging resumes once Coinbase's trades flow again: a complete window that
            # opened after the suppressed one.
            resumed_after = int(item.ts_ns)
            await rec.until(
                lambda: any(e.window_open > resumed_after for e in complete(rec.events))
            )
            emitted = gw.metrics.value(
                "tradegw_merge_windows_emitted_total", merge_key="BTC-USDT/Trade"
            )
            assert emitted is not None
            assert emitted >= 3

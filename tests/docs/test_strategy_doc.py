"""The model strategy of docs/writing-a-strategy.md is real code that trades.

Every ```python block of the guide compiles; the ``DipBuyer`` block is executed as a module
and run through the real gateway against the Binance emulator: it subscribes, buys on a
dip, and its order reaches a final state through execution reports. With trading switched
off, the same decision comes back SUPPRESSED and nothing reaches the venue.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from .docblocks import REPO, blocks

GUIDE = REPO / "docs" / "writing-a-strategy.md"


def _python_blocks() -> list[Any]:
    return [b for b in blocks(GUIDE) if b.lang == "python"]


def test_every_python_block_compiles() -> None:
    found = _python_blocks()
    assert found, f"{GUIDE} has no ```python blocks"
    for block in found:
        compile(block.text, block.where, "exec")


def _load_strategy_module() -> types.ModuleType:
    source = next((b for b in _python_blocks() if "class DipBuyer(" in b.text), None)
    assert source is not None, "the DipBuyer example is missing from writing-a-strategy.md"
    module = types.ModuleType("doc_dip_buyer")
    module.__file__ = str(GUIDE)
    sys.modules[module.__name__] = module  # pydantic resolves annotations through it
    try:
        exec(compile(source.text, source.where, "exec"), module.__dict__)
    finally:
        sys.modules.pop(module.__name__, None)
    return module


def test_strategy_instantiates_with_defaults_and_settings() -> None:
    mod = _load_strategy_module()
    default = mod.DipBuyer()
    assert default.settings.provider == "binance"
    tuned = mod.DipBuyer(mod.DipBuyerSettings(symbol="ETH-USDT", qty="0.01", drop_bps="15"))
    assert tuned.settings.qty == Decimal("0.01")
    assert tuned.settings.drop_bps == Decimal(15)


class _Watch:
    """Wakes the test whenever the strategy saw an event or a report."""

    def __init__(self, strategy: Any) -> None:
        self.changed = anyio.Event()
        for name in ("on_event", "on_exec_report"):
            original = getattr(strategy, name)

            async def wrapped(item: Any, _original: Any = original) -> None:
                await _original(item)
                self.changed.set()

            setattr(strategy, name, wrapped)

    async def until(self, done: Callable[[], bool], step: Callable[[], Any]) -> None:
        with anyio.fail_after(15):
            while not done():
                self.changed = anyio.Event()
                step()
                with anyio.move_on_after(0.05):
                    await self.changed.wait()


def _settings(emu: Any, tmp_path: Path, name: str) -> dict[str, Any]:
    client = emu.client_settings()
    return {
        "plugins": {"enabled": ["binance"]},
        "gateway": {"providers": ["binance"], "consumers": [name]},
        "metrics": {"enabled": False},
        "orders": {"journal_path": str(tmp_path / "journal.sqlite3")},
        "providers": {
            "binance": {
                "rest_url": client.rest_url,
                "ws_url": client.ws_url,
                "ws_api_url": client.ws_api_url,
                "api_key": client.api_key.get_secret_value(),
                "api_secret": client.api_secret.get_secret_value(),
                "symbols": ["BTC-USDT"],
            }
        },
    }


@pytest.fixture
def emulator_modules() -> tuple[Any, Any]:
    binance = pytest.importorskip("tradegw_binance.emulator", reason="tradegw-binance missing")
    gateway = pytest.importorskip("tradegw_core.gateway")
    return binance, gateway


async def _run(
    tmp_path: Path, modules: tuple[Any, Any], *, off: str = ""
) -> tuple[Any, Any, list[Any]]:
    """Run DipBuyer on the emulator; ``off`` is how trading is switched off ("" = it is on)."""
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.plugin.registries import Registries
    from tradegw_core.schema.control import SetTradingMode
    from tradegw_core.sim.emulator import EmulatorConfig

    binance, gateway_mod = modules
    mod = _load_strategy_module()
    strategy = mod.DipBuyer(mod.DipBuyerSettings(drop_bps=Decimal(0)))
    watch = _Watch(strategy)
    config = EmulatorConfig(venue="binance", symbols=("BTC-USDT",), seed=5, rate=0.001)
    async with binance.BinanceEmulator(config) as emu:
        regs = Registries()
        regs.consumers.add("dip_buyer", lambda _settings: strategy, plugin_id="docs")
        data = _settings(emu, tmp_path, "dip_buyer")
        if off == "config":
            data["orders"]["trading_enabled_on_start"] = False
        loaded = load_config_mapping(data, registries=regs)
        async with gateway_mod.Gateway(loaded.settings, loaded.registries) as gw:
            if off == "switch":
                ack = await gw.request(SetTradingMode(consumer_id="dip_buyer", enabled=False))
                assert ack.ok, ack.error
            if not off:
                await watch.until(
                    lambda: bool(strategy.states) and strategy.states[-1] in _FINAL,
                    emu.sim.step,
                )
            else:
                await watch.until(lambda: strategy.suppressed > 0, emu.sim.step)
            engine = emu.engines["BTC-USDT"]
            placed = (
                None
                if strategy.order_id is None
                else engine.order("main", client_order_id=strategy.order_id)
            )
            open_orders = engine.open_orders()
    return strategy, placed, open_orders


_FINAL = {"FILLED", "CANCELLED", "REJECTED", "EXPIRED"}


@pytest.mark.anyio
async def test_strategy_buys_the_dip_and_follows_its_reports(
    tmp_path: Path, emulator_modules: tuple[Any, Any]
) -> None:
    strategy, placed, open_orders = await _run(tmp_path, emulator_modules)

    assert strategy.order_id is not None
    assert strategy.states[-1] in _FINAL
    assert placed is not None  # the venue has it, under the strategy's client order id
    assert open_orders == []  # IOC: nothing rests on the book
    assert strategy.filled <= strategy.settings.qty


@pytest.mark.anyio
@pytest.mark.parametrize("off", ["switch", "config"])
async def test_switched_off_strategy_is_suppressed_and_sends_nothing(
    tmp_path: Path, emulator_modules: tuple[Any, Any], off: str
) -> None:
    # "switch": SetTradingMode; "config": [orders] trading_enabled_on_start = false
    strategy, placed, open_orders = await _run(tmp_path, emulator_modules, off=off)

    assert strategy.suppressed >= 1
    assert strategy.order_id is None
    assert strategy.states == []
    assert placed is None
    assert open_orders == []


@pytest.mark.anyio
async def test_the_merged_stream_example_acts_on_one_window_of_every_venue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from tradegw_core.schema.events import EventType, MergedEvent, Trade

    source = next((b for b in _python_blocks() if "class VwapGap" in b.text), None)
    assert source is not None, "the merged-stream example is missing from the guide"
    namespace: dict[str, Any] = {}
    exec(compile(source.text, source.where, "exec"), namespace)

    class Ctx:
        log = logging.getLogger("doc.vwap_gap")
        asked: tuple[Any, ...] = ()

        async def merged_subscribe(self, *args: Any, **kwargs: Any) -> Any:
            self.asked = (args, kwargs)
            return types.SimpleNamespace(ok=True, error="")

    ctx = Ctx()
    strategy = namespace["VwapGap"]()
    await strategy.on_start(ctx)
    assert ctx.asked == (
        ("BTC-USDT", EventType.TRADE, ["binance", "coinbase", "kraken"]),
        {"window_ms": 1000},
    )

    def trade(venue: str, price: str, qty: str) -> Trade:
        return Trade(
            event_id=f"{venue}{price}",
            provider=venue,
            symbol="BTC-USDT",
            venue_symbol="BTCUSDT",
            trade_id="1",
            price=Decimal(price),
            qty=Decimal(qty),
        )

    window = MergedEvent(
        event_id="m1",
        provider="merge:Trade",
        symbol="BTC-USDT",
        venue_symbol="BTC-USDT",
        merge_id="BTC-USDT/Trade/x/1",
        merge_type=EventType.TRADE,
        window_open=0,
        window_close=1,
        fragments={
            "binance": [trade("binance", "100", "1"), trade("binance", "102", "1")],  # 101
            "coinbase": [trade("coinbase", "100.5", "2")],
            "kraken": [trade("kraken", "103", "1")],
        },
    )
    with caplog.at_level(logging.INFO, logger="doc.vwap_gap"):
        await strategy.on_event(window)
    [record] = caplog.records
    assert record.__dict__["gap"] == "2.5"
    assert record.__dict__["window"] == "BTC-USDT/Trade/x/1"

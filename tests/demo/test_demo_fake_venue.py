"""The demo runner end to end against a tiny fake venue (no venue plugin needed).

The fake emulator is built on the core's emulator kit and pushes one JSON frame per
simulated trade on its WebSocket; the fake provider connects to the URL the emulator's
``client_settings()`` gives and emits canonical Trades. This exercises the demo's wiring
(emulators on one simulator, settings, the tap, the view, skipping a missing venue).
"""

from __future__ import annotations

import argparse
import io
import json
import socket
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict
from websockets.asyncio.client import connect

import tradegw_core.demo as demo
from tradegw_core.contracts import ProviderContext, StreamSpec
from tradegw_core.demo.runner import (
    DemoOptions,
    _hints,
    _start_exporter,
    build_settings,
    client_settings_for,
    run_demo,
    with_consumer,
)
from tradegw_core.demo.tap import DemoTap
from tradegw_core.errors import ConfigError, RegistryError
from tradegw_core.gateway import Gateway
from tradegw_core.observability.metrics import Metrics
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import EventType, Side, Trade, make_event_id
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.sim.emulator import Emulator, EmulatorConfig
from tradegw_core.sim.market import MarketEvent, SimTrade

VENUE = "fakevenue"
SYMBOLS = ("BTC-USDT", "ETH-USDT")


class FakeSettings(BaseModel):
    """``[providers.fakevenue]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ws_url: str = ""
    symbols: tuple[str, ...] = ()


class FakeEmulator(Emulator):
    """Pushes ``{"symbol", "id", "price", "qty", "side"}`` per simulated trade."""

    ws_path = "/feed"

    def on_market_event(self, event: MarketEvent) -> None:
        if isinstance(event, SimTrade):
            frame = {
                "symbol": event.symbol,
                "id": event.trade_id,
                "price": str(event.price),
                "qty": str(event.qty),
                "side": str(event.aggressor),
            }
            self.broadcast(json.dumps(frame), None)

    def client_settings(self, **overrides: Any) -> FakeSettings:
        return FakeSettings(ws_url=self.ws_url, symbols=tuple(self.symbols))


class FakeProvider:
    """Reads the fake emulator's frames and emits Trades."""

    def __init__(self, ctx: ProviderContext) -> None:
        self.ctx = ctx
        self.settings: FakeSettings = ctx.settings

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        async with connect(self.settings.ws_url) as ws:
            task_status.started()
            async for message in ws:
                data = json.loads(message)
                symbol = data["symbol"]
                self.ctx.emit(
                    Trade(
                        event_id=make_event_id(VENUE, symbol, EventType.TRADE, data["id"]),
                        provider=VENUE,
                        symbol=symbol,
                        venue_symbol=symbol.replace("-", ""),
                        seq_provider=data["id"],
                        ts_ingest=self.ctx.clock.monotonic_ns(),
                        trade_id=str(data["id"]),
                        price=Decimal(data["price"]),
                        qty=Decimal(data["qty"]),
                        side=Side(data["side"]),
                    )
                )

    def instruments(self) -> Mapping[Symbol, Instrument]:
        out = {}
        for s in SYMBOLS:
            base, quote = s.split("-")
            out[Symbol(s)] = Instrument(
                provider=VENUE,
                symbol=Symbol(s),
                venue_symbol=base + quote,
                base=base,
                quote=quote,
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.00001"),
            )
        return out

    def supported_types(self) -> frozenset[EventType]:
        return frozenset(
            {EventType.TRADE, EventType.TICKER, EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE}
        )

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        return None

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        return None


def fake_registries() -> Registries:
    regs = Registries()
    regs.providers.add(VENUE, FakeProvider, plugin_id="fake")
    regs.emulators.add(VENUE, FakeEmulator, plugin_id="fake")
    regs.settings.add(f"providers.{VENUE}", FakeSettings, plugin_id="fake")
    regs.freeze()
    return regs


class Tty(io.StringIO):
    """A StringIO that says it is a terminal, so the live view is drawn into it."""

    def isatty(self) -> bool:
        return True


def options(**kw: Any) -> DemoOptions:
    base: dict[str, Any] = {
        "duration": 30.0,
        "venues": (VENUE, "binance"),
        "rate": 200.0,
        "interval_s": 0.05,
        "refresh_per_second": 20.0,
    }
    base.update(kw)
    return DemoOptions(**base)


async def run_until_trades(opts: DemoOptions, out: io.StringIO) -> Any:
    """Run the demo until the tap saw trades on both symbols, then stop it."""
    ready = anyio.Event()
    seen: list[Gateway] = []

    def started(gw: Gateway) -> None:
        seen.append(gw)
        ready.set()

    async def stopper() -> None:
        await ready.wait()
        tap: DemoTap = seen[0].consumers["demo-view"]  # type: ignore[assignment]
        await tap.wait_until(lambda t: all(t.rows[(VENUE, s)].trades for s in SYMBOLS))
        seen[0].stop()

    err = io.StringIO()
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stopper)
            result = await run_demo(opts, fake_registries(), out=out, err=err, started=started)
    return result, err.getvalue()


@pytest.mark.anyio
async def test_headless_run_reports_events_and_skips_a_missing_venue() -> None:
    out = io.StringIO()
    result, err = await run_until_trades(options(headless=True), out)
    assert result.exit_code == 0
    assert result.venues == (VENUE,)
    assert "binance" in result.skipped
    assert "not installed" in result.skipped["binance"]
    assert "skipping binance" in err
    assert result.events_by_venue[VENUE] > 0
    assert result.consumer_events["demo-view"] == result.events_by_venue[VENUE]
    text = out.getvalue()
    summary = text[text.index("tradegw demo summary") :]
    assert f"events from {VENUE}: {result.events_by_venue[VENUE]}" in summary
    assert "skipped binance" in summary
    assert "exec report states seen: none" in summary


@pytest.mark.anyio
async def test_live_view_draws_tables_and_hints_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    out = Tty()
    result, _ = await run_until_trades(options(), out)
    assert result.exit_code == 0
    text = out.getvalue()
    for heading in ("tradegw demo", "last trade", "events/s", "resyncs", "lag ms", "fakevenue"):
        assert heading in text
    assert "consumers" in text
    assert "demo-view" in text
    assert "metrics: http://127.0.0.1:" in text
    assert "control API: off" in text
    assert "tradegw demo summary" in text


@pytest.mark.anyio
async def test_no_venue_at_all_is_an_error_not_a_hang() -> None:
    err = io.StringIO()
    with anyio.fail_after(5):
        result = await run_demo(
            options(venues=("binance",)), fake_registries(), out=io.StringIO(), err=err
        )
    assert result.exit_code == 1
    assert "no venue could be started" in err.getvalue()


class BrokenEmulator(FakeEmulator):
    def __init__(self, config: EmulatorConfig) -> None:
        raise RuntimeError("port in use")


@pytest.mark.anyio
async def test_an_emulator_that_fails_to_start_is_skipped_with_its_error() -> None:
    regs = Registries()
    regs.providers.add(VENUE, FakeProvider, plugin_id="fake")
    regs.emulators.add(VENUE, BrokenEmulator, plugin_id="fake")
    regs.freeze()
    with anyio.fail_after(5):
        result = await run_demo(options(), regs, out=io.StringIO(), err=io.StringIO())
    assert result.exit_code == 1
    assert result.skipped[VENUE] == "emulator failed to start: RuntimeError: port in use"


def test_client_settings_come_from_the_emulator_as_plain_values() -> None:
    class Mapped(FakeEmulator):
        def client_settings(self, **overrides: Any) -> Any:
            return {"ws_url": "ws://x", "symbols": ("A-B",)}

    emu = Mapped(EmulatorConfig(venue=VENUE, symbols=("BTC-USDT",)))
    assert client_settings_for(emu) == {"ws_url": "ws://x", "symbols": ["A-B"]}


def test_an_emulator_without_client_settings_is_a_clear_error() -> None:
    emu = Emulator(EmulatorConfig(venue="bare", symbols=("BTC-USDT",)))
    with pytest.raises(NotImplementedError, match="client_settings"):
        client_settings_for(emu)


def test_user_config_merges_under_the_emulator_urls(tmp_path: Path) -> None:
    regs = fake_registries()
    overrides = {VENUE: {"ws_url": "ws://emulator"}}
    user = {
        "providers": {VENUE: {"ws_url": "ws://elsewhere", "symbols": ["ETH-USDT"]}},
        "dispatcher": {"lane_size": 77},
        "plugins": {"enabled": ["ignored"]},
    }
    settings = build_settings(regs, overrides, options(), journal_dir=tmp_path, user=user)
    assert settings.providers.fakevenue.ws_url == "ws://emulator"
    assert settings.providers.fakevenue.symbols == ("ETH-USDT",)
    assert settings.dispatcher.lane_size == 77
    assert settings.gateway.providers == (VENUE,)
    assert settings.orders.journal_path.startswith(str(tmp_path))
    with pytest.raises(ConfigError, match="lane_size"):
        build_settings(
            regs, overrides, options(), journal_dir=tmp_path, user={"dispatcher": {"lane_size": 0}}
        )


def test_with_consumer_copies_registries_and_adds_the_tap() -> None:
    regs = fake_registries()
    tap = object()
    copy = with_consumer(regs, "demo-view", tap)
    assert copy.consumers.get("demo-view")(None) is tap
    assert copy.providers.owner(VENUE) == "fake"
    assert copy.consumers.frozen
    with pytest.raises(RegistryError):
        regs.consumers.get("demo-view")


def test_main_parses_arguments_and_returns_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--duration", "2", "--seed", "3", "--headless"])
    assert (args.duration, args.seed, args.headless, args.config) == (2.0, 3, True, None)
    seen: list[DemoOptions] = []

    async def fake_run(opts: DemoOptions, registries: Any) -> Any:
        seen.append(opts)
        return type("R", (), {"exit_code": 0})()

    monkeypatch.setattr("tradegw_core.demo.runner.run_demo", fake_run)
    assert demo.main(args, fake_registries()) == 0
    assert seen[0].duration == 2.0
    assert seen[0].seed == 3
    assert seen[0].headless

    async def interrupted(opts: DemoOptions, registries: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("tradegw_core.demo.runner.run_demo", interrupted)
    assert demo.main(args, fake_registries()) == 0


@pytest.mark.anyio
async def test_config_file_chooses_the_venues_and_tunes_the_gateway(tmp_path: Path) -> None:
    config = tmp_path / "demo.toml"
    config.write_text(
        f'[gateway]\nproviders = ["{VENUE}"]\n\n[dispatcher]\nlane_size = 500\n', encoding="utf-8"
    )
    lanes: list[int] = []

    def started(gw: Gateway) -> None:
        lanes.append(gw.settings.dispatcher.lane_size)
        gw.stop()

    with anyio.fail_after(20):
        result = await run_demo(
            options(config=str(config), venues=("binance", "kraken")),
            fake_registries(),
            out=io.StringIO(),
            err=io.StringIO(),
            started=started,
        )
    assert result.exit_code == 0
    assert result.venues == (VENUE,)
    assert result.skipped == {}
    assert lanes == [500]


def test_metrics_endpoint_falls_back_to_a_free_port_and_can_be_off(tmp_path: Path) -> None:
    regs = fake_registries()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        user = {"metrics": {"port": port}}
        settings = build_settings(regs, {VENUE: {}}, options(), journal_dir=tmp_path, user=user)
        err = io.StringIO()
        exporter = _start_exporter(Metrics(), settings, err)
        assert exporter is not None
        try:
            assert exporter.port not in (0, port)
            assert f"metrics port {port} unavailable" in err.getvalue()
            assert f"metrics: http://127.0.0.1:{exporter.port}/metrics" in _hints(
                settings, exporter
            )
        finally:
            exporter.close()
    user = {"metrics": {"enabled": False}, "api": {"enabled": True, "token": "t", "port": 8181}}
    off = build_settings(regs, {VENUE: {}}, options(), journal_dir=tmp_path, user=user)
    assert _start_exporter(Metrics(), off, io.StringIO()) is None
    hints = _hints(off, None)
    assert hints[0].startswith("metrics: off")
    assert hints[1] == "control API: http://127.0.0.1:8181 (bearer token from [api])"

"""Log lines an operator follows: connections, resyncs (bounded), consumers, settings."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.clock import FakeClock
from tradegw_core.config.loader import load_config_mapping
from tradegw_core.gateway import Gateway
from tradegw_core.observability.ops_log import settings_summary
from tradegw_core.plugin.registries import Registries
from tradegw_core.testing.recorders import RecordingConsumer


def ops_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tradegw.ops"]


def test_connection_life_and_resyncs_are_logged_and_a_resync_storm_is_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    bus = TelemetryBus(clock=clock)
    with caplog.at_level(logging.INFO, logger="tradegw.ops"):
        bus.emit("ws.connected", provider="kraken-md0")
        bus.emit("ws.stale", provider="kraken-md0")
        bus.emit("ws.reconnect", provider="kraken-md0", reason="stale")
        for _ in range(50):
            bus.emit("book.resync", provider="kraken", symbol="BTC-USDT", reason="checksum")
        bus.emit("book.resync", provider="coinbase", symbol="ETH-USD", reason="gap", detail="x")
    lines = ops_lines(caplog)
    assert lines[:3] == [
        "kraken-md0: connected",
        "kraken-md0: no frame within its stale limit",
        "kraken-md0: disconnected (stale); reconnecting",
    ]
    kraken = [line for line in lines if line.startswith("kraken BTC-USDT: book resync (checksum)")]
    assert len(kraken) == 10  # a storm of 50 within a second: 10 lines, not 50
    assert "coinbase ETH-USD: book resync (gap): x" in lines  # another provider still logs
    clock.advance(1.0)
    with caplog.at_level(logging.INFO, logger="tradegw.ops"):
        bus.emit("book.resync", provider="kraken", symbol="BTC-USDT", reason="gap")
    assert ops_lines(caplog)[-1] == (
        "kraken BTC-USDT: book resync (gap) (40 more resync lines left out)"
    )


def test_settings_summary_names_the_setup_and_masks_the_token() -> None:
    data = {
        "gateway": {"providers": [], "consumers": []},
        "api": {"enabled": True, "port": 0, "token": "a-very-secret-token-of-32-chars-xx"},
        "metrics": {"enabled": False},
        "orders": {"trading_enabled_on_start": False},
    }
    settings = load_config_mapping(data).settings
    line = settings_summary(settings)
    assert "a-very-secret" not in line
    assert "api_token=***" in line
    assert "api=127.0.0.1:0" in line
    assert "trading_enabled_on_start=False" in line
    assert "metrics=off" in line
    assert isinstance(settings.api.token, SecretStr)


@pytest.mark.anyio
async def test_gateway_logs_settings_and_each_consumer_start_and_stop(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    regs = Registries()
    rec = RecordingConsumer()
    regs.consumers.add("watcher", lambda _settings: rec, plugin_id="test")
    data = {
        "gateway": {"providers": [], "consumers": ["watcher"]},
        "metrics": {"enabled": False},
        "orders": {"journal_path": str(tmp_path / "j.sqlite3")},
    }
    loaded = load_config_mapping(data, registries=regs)
    with caplog.at_level(logging.INFO), anyio.fail_after(10):
        async with Gateway(loaded.settings, loaded.registries):
            started = ops_lines(caplog)
    assert "consumer watcher started" in started
    assert "consumer watcher stopped" not in started
    assert "consumer watcher stopped" in ops_lines(caplog)
    summary = [r.getMessage() for r in caplog.records if r.name == "tradegw.gateway"]
    assert any(
        m.startswith("settings: providers=[] ") and "consumers=['watcher']" in m for m in summary
    )

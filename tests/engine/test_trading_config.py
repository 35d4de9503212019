"""Trading runs only where it is configured; market data never depends on trading keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.config.models import GatewaySettings, OrdersSettings, Settings
from tradegw_core.errors import ConfigError
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.registries import Registries

from .conftest import ProviderTracker, RecordingConsumer, trade
from .test_gateway import FAST, sub
from .test_wiring import FakeAdapter

MISSING = "providers.fake.api_key and providers.fake.api_secret are not set"


def _no_keys_factory(ctx: Any) -> FakeAdapter:
    raise ConfigError(MISSING)


class LateCheckAdapter(FakeAdapter):
    """Finds the missing keys only when its user stream starts."""

    runs = 0

    async def run(self, emit: Any, *, task_status: TaskStatus[None]) -> None:
        type(self).runs += 1
        raise ConfigError(MISSING)


class SaysUnavailable(FakeAdapter):
    """Tells the gateway up front that it cannot trade."""

    def trading_unavailable(self) -> str | None:
        return "no api key configured"


def _gateway(adapter: Any, tmp_path: Path) -> tuple[Settings, Registries, ProviderTracker, Any]:
    tracker = ProviderTracker()
    made: dict[str, RecordingConsumer] = {}
    regs = Registries()
    regs.providers.add("fake", tracker, plugin_id="test")
    regs.order_adapters.add("fake", adapter, plugin_id="test")
    regs.consumers.add("rec", lambda s: made.setdefault("rec", RecordingConsumer(s)))
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(
            providers=("fake",), consumers=("rec",), required_providers=("fake",)
        ),
        orders=OrdersSettings(journal_path=str(tmp_path / "journal.sqlite3")),
    )
    return settings, regs, tracker, made


def _disabled_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "trading disabled" in r.getMessage()]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("factory", "reason"),
    [(_no_keys_factory, MISSING), (SaysUnavailable, "no api key configured")],
)
async def test_an_unconfigured_adapter_is_not_started_and_market_data_runs(
    factory: Any, reason: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, regs, tracker, made = _gateway(factory, tmp_path)
    with caplog.at_level(logging.WARNING):
        async with Gateway(settings, regs, restart_backoff=FAST) as gw:
            with anyio.fail_after(5):
                venue = await tracker.wait_started(1)
                assert gw.orders.adapters == {}
                assert gw.orders.disabled == {"fake": reason}
                assert gw.orders.supervisors == {}
                assert (await gw.request(sub())).ok  # the required market data runs
                venue.emit(trade(1))
                await made["rec"].wait_for(lambda c: len(c.events) == 1)
            assert gw.telemetry.count("order_adapter.disabled") == 1
    assert _disabled_lines(caplog) == [f"trading disabled for fake: {reason}"]


@pytest.mark.anyio
async def test_keys_missing_at_run_disable_trading_once_even_for_a_required_provider(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    LateCheckAdapter.runs = 0
    settings, regs, tracker, made = _gateway(LateCheckAdapter, tmp_path)
    with caplog.at_level(logging.WARNING):
        async with Gateway(settings, regs, restart_backoff=FAST) as gw:
            with anyio.fail_after(5):
                venue = await tracker.wait_started(1)
                sup = gw.orders.supervisors["fake"]
                assert sup.gave_up
                assert sup.current is None
                assert (await gw.request(sub())).ok
                venue.emit(trade(1))
                await made["rec"].wait_for(lambda c: len(c.events) == 1)
            failed = gw.telemetry.recent(name="order_adapter.failed")
            assert len(failed) == 1
    assert LateCheckAdapter.runs == 1  # reported once, never retried
    assert _disabled_lines(caplog) == [f"trading disabled for fake: {MISSING}"]

"""``gateway_status`` on gateways the HTTP tests do not cover: no order path, broken venue."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.api import gateway_status
from tradegw_core.config.models import GatewaySettings, Settings
from tradegw_core.gateway import Gateway
from tradegw_core.orchestrator.supervisor import Backoff
from tradegw_core.plugin.registries import Registries
from tradegw_core.testing.recorders import RecordingConsumer

pytestmark = pytest.mark.anyio


class Unreachable:
    """A provider whose venue never answers: every start fails."""

    def __init__(self, _ctx: Any) -> None:
        pass

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Fail at once."""
        raise ConnectionRefusedError("venue unreachable")


def _gateway() -> Gateway:
    regs = Registries()
    regs.providers.add("down", Unreachable, plugin_id="test")
    regs.consumers.add("a", lambda settings: RecordingConsumer(), plugin_id="test")
    regs.freeze()
    settings = Settings(gateway=GatewaySettings(providers=("down",), consumers=("a",)))
    # A long backoff keeps the failed provider waiting to restart while the test looks.
    return Gateway(settings, regs, restart_backoff=Backoff(base_s=60, cap_s=60, min_s=60))


async def test_status_of_a_gateway_without_order_path_and_a_failing_provider() -> None:
    gw = _gateway()
    before = gateway_status(gw)
    assert before["providers"]["down"]["state"] == "starting"
    with anyio.fail_after(5):
        async with gw:
            # start-up does not wait for it
            await gw.providers["down"].until(lambda sup: sup.restarts >= 1)
            status = gateway_status(gw)
    assert status["providers"]["down"] == {
        "state": "restarting",
        "required": False,
        "restarts": 1,
        "last_error": "ConnectionRefusedError: venue unreachable",
    }
    assert status["trading"] == {"configured": False, "global_enabled": None, "switches": {}}
    assert status["open_orders"] is None
    assert status["order_adapters"] == {}
    consumer = status["consumers"]["a"]
    assert consumer["trading_enabled"] is None
    assert consumer["open_orders"] is None
    assert consumer["streams"] == 0

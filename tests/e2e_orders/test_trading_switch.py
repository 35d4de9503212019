"""The trading switch end to end: SetTradingMode over the gateway's control bus.

Two consumers trade on the Coinbase emulator through a real Gateway. Switching one off
suppresses its orders (a clear SUPPRESSED result, counted, nothing reaches the venue) while
the other trades on; the global kill switch stops both, and turning it back on does not
re-enable a consumer an operator switched off. Cancels pass whatever the switches say.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradegw_core.gateway import Gateway
from tradegw_core.schema.control import SetTradingMode
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import CancelRequest, OrderStatus

from .harness import (
    PROVIDER,
    SYMBOL,
    RecordingConsumer,
    coinbase_emulator,
    gateway_config,
    order_service,
    resting_buy,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


async def test_set_trading_mode_per_consumer_and_global(tmp_path: Path) -> None:
    async with coinbase_emulator() as emu:
        alpha, beta = RecordingConsumer("alpha"), RecordingConsumer("beta")
        loaded = gateway_config(emu, tmp_path / "journal.sqlite3", {"alpha": alpha, "beta": beta})
        async with Gateway(loaded.settings, loaded.registries) as gw:

            def suppressed(consumer: str) -> float:
                value = gw.metrics.registry.get_sample_value(
                    "tradegw_orders_suppressed_total", {"consumer": consumer}
                )
                return value or 0.0

            # alpha off (as JSON, the way an operator tool sends it): only alpha stops.
            ack = await gw.request(
                '{"kind": "set_trading_mode", "request_id": "r1", "consumer_id": "alpha", '
                '"enabled": false}'
            )
            assert ack.ok, ack
            assert ack.request_id == "r1"
            a1 = resting_buy(emu, "alpha", "sw-alpha-1", ticks=-10)
            result = await alpha.ctx.submit_order(a1)
            assert result.status is OrderStatus.SUPPRESSED, result
            assert result.reason == "trading_disabled"
            assert "alpha" in result.message
            assert "SetTradingMode" in result.message
            assert emu.desk.creates == 0  # nothing reached the venue
            assert suppressed("alpha") == 1
            assert gw.telemetry.count("order.suppressed") == 1
            assert order_service(gw).open_orders("alpha") == []

            b1 = resting_buy(emu, "beta", "sw-beta-1", ticks=-10)
            result = await beta.ctx.submit_order(b1)
            assert result.status is OrderStatus.ACCEPTED, result
            assert emu.desk.creates == 1

            # The global kill switch stops everyone.
            ack = await gw.request(SetTradingMode(request_id="r2", enabled=False))
            assert ack.ok, ack
            b2 = resting_buy(emu, "beta", "sw-beta-2", ticks=-11)
            result = await beta.ctx.submit_order(b2)
            assert result.status is OrderStatus.SUPPRESSED, result
            assert "kill switch" in result.message
            result = await alpha.ctx.submit_order(a1)
            assert result.status is OrderStatus.SUPPRESSED, result
            assert emu.desk.creates == 1
            assert suppressed("alpha") == 2
            assert suppressed("beta") == 1

            # Cancels are never gated: risk can be taken off with the kill switch on.
            cancel = await beta.ctx.cancel_order(
                CancelRequest(
                    client_order_id=b1.client_order_id,
                    consumer_id="beta",
                    provider=PROVIDER,
                    symbol=SYMBOL,
                )
            )
            assert cancel.ok, cancel
            await beta.until(lambda: ExecState.CANCELLED in beta.states(b1.client_order_id))

            # Kill switch back on: beta trades again, alpha stays off until switched on.
            ack = await gw.request({"kind": "set_trading_mode", "enabled": True})
            assert ack.ok, ack
            result = await alpha.ctx.submit_order(a1)
            assert result.status is OrderStatus.SUPPRESSED, result
            result = await beta.ctx.submit_order(b2)
            assert result.status is OrderStatus.ACCEPTED, result
            assert emu.desk.creates == 2

            # alpha on: the id a suppressed order used was never burned, it goes out now.
            ack = await gw.request(SetTradingMode(consumer_id="alpha", enabled=True))
            assert ack.ok, ack
            result = await alpha.ctx.submit_order(a1)
            assert result.status is OrderStatus.ACCEPTED, result
            assert emu.desk.creates == 3
            await alpha.until(lambda: alpha.states(a1.client_order_id) == [ExecState.ACK])

            # An unknown consumer is refused with a clear error; nothing changes.
            ack = await gw.request(SetTradingMode(consumer_id="nobody", enabled=False))
            assert not ack.ok
            assert "unknown consumer 'nobody'" in ack.error
            assert order_service(gw).switch.snapshot() == {"*": True, "alpha": True}

        # Suppressed submissions never produced an execution report: only sent orders did.
        assert alpha.states(a1.client_order_id) == [ExecState.ACK]
        assert beta.states(b1.client_order_id) == [ExecState.ACK, ExecState.CANCELLED]
        assert beta.states(b2.client_order_id) == [ExecState.ACK]
        assert len(alpha.reports) + len(beta.reports) == 4

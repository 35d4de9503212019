"""The trading switch end to end: SetTradingMode over the gateway's control bus.

Two consumers trade on the Coinbase emulator through a real Gateway. Switching one off
suppresses its orders (a clear SUPPRESSED result, counted, nothing reaches the venue) while
the other trades on; the global kill switch stops both, and turning it back on does not
re-enable a consumer an operator switched off. Cancels pass whatever the switches say.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tradegw_core.gateway import Gateway
from tradegw_core.schema.control import SetTradingMode
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import CancelRequest, OrderStatus

from .harness import (
    PROVIDER,
    SYMBOL,
    RecordingConsumer,
    VenuePlacements,
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


async def test_kill_switch_off_at_start_beats_a_consumer_switch_until_the_go(
    tmp_path: Path,
) -> None:
    """``trading_enabled_on_start = false``: the kill switch starts off. A consumer whose own
    switch is on (explicitly, over HTTP) is SUPPRESSED and nothing reaches the venue; one
    global go over ``POST /v1/trading`` restores its own switch and its order is placed."""
    token = "kill-switch-test-token-0123456789"
    async with coinbase_emulator() as emu:
        alpha = RecordingConsumer("alpha")
        loaded = gateway_config(
            emu,
            tmp_path / "journal.sqlite3",
            {"alpha": alpha},
            orders={"trading_enabled_on_start": False},
            api={"enabled": True, "port": 0, "token": token},
        )
        placed = VenuePlacements(emu)  # every order the venue's engine accepted
        async with Gateway(loaded.settings, loaded.registries) as gw:
            assert gw.api_url is not None
            auth = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=gw.api_url, headers=auth) as http:

                async def trading() -> dict[str, object]:
                    status = (await http.get("/v1/status")).json()
                    assert isinstance(status, dict)
                    return {
                        "global": status["trading"]["global_enabled"],
                        "own": status["consumers"]["alpha"]["trading_own_switch"],
                        "effective": status["consumers"]["alpha"]["trading_enabled"],
                    }

                assert await trading() == {"global": False, "own": True, "effective": False}
                on = await http.post("/v1/trading", json={"consumer_id": "alpha", "enabled": True})
                assert on.status_code == 200, on.text
                assert await trading() == {"global": False, "own": True, "effective": False}

                a1 = resting_buy(emu, "alpha", "ks-alpha-1", ticks=-10)
                result = await alpha.ctx.submit_order(a1)
                assert result.status is OrderStatus.SUPPRESSED, result
                assert "kill switch" in result.message
                assert emu.desk.creates == 0
                assert placed.placed == {}

                go = await http.post("/v1/trading", json={"consumer_id": None, "enabled": True})
                assert go.status_code == 200, go.text
                assert await trading() == {"global": True, "own": True, "effective": True}
                result = await alpha.ctx.submit_order(a1)
                assert result.status is OrderStatus.ACCEPTED, result
                await alpha.until(lambda: alpha.states(a1.client_order_id) == [ExecState.ACK])
                assert placed.placed == {a1.client_order_id: 1}
                # A marketable order fills at once: both order latencies are observed.
                spec = emu.sim.specs[SYMBOL]
                best_ask = emu.sim.book(PROVIDER, SYMBOL, depth=1).asks[0][0]
                taker = a1.model_copy(
                    update={"client_order_id": "ks-alpha-taker", "price": best_ask + spec.tick}
                )
                assert (await alpha.ctx.submit_order(taker)).status is OrderStatus.ACCEPTED
                await alpha.until(lambda: ExecState.FILLED in alpha.states("ks-alpha-taker"))
                gw.export_metrics()
                value = gw.metrics.registry.get_sample_value
                coinbase = {"provider": PROVIDER}
                assert value("tradegw_orders_ack_latency_seconds_count", coinbase) == 2
                assert value("tradegw_orders_first_fill_latency_seconds_count", coinbase) == 1
                ack_sum = value("tradegw_orders_ack_latency_seconds_sum", coinbase)
                assert ack_sum is not None
                assert 0 < ack_sum < 10
                assert value("tradegw_trading_global_enabled", {}) == 1
                assert value("tradegw_trading_enabled", {"consumer": "alpha"}) == 1

                # Kill switch off again: the consumer's own switch stays on, nothing goes out.
                off = await http.post("/v1/trading", json={"consumer_id": None, "enabled": False})
                assert off.status_code == 200, off.text
                assert await trading() == {"global": False, "own": True, "effective": False}
                a2 = resting_buy(emu, "alpha", "ks-alpha-2", ticks=-11)
                assert (await alpha.ctx.submit_order(a2)).status is OrderStatus.SUPPRESSED
                gw.export_metrics()
                assert value("tradegw_trading_global_enabled", {}) == 0
                assert value("tradegw_trading_consumer_enabled", {"consumer": "alpha"}) == 1
                assert value("tradegw_trading_enabled", {"consumer": "alpha"}) == 0
        placed.close()
        assert placed.placed == {a1.client_order_id: 1, "ks-alpha-taker": 1}
        assert emu.desk.creates == 2

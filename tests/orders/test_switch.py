"""The trading switch: per consumer, global kill switch, suppression before the venue."""

from __future__ import annotations

import pytest

from tradegw_core.orders import TradingSwitch
from tradegw_core.schema.control import SetTradingMode
from tradegw_core.schema.orders import CancelRequest, OrderStatus


def test_switch_defaults_on_and_kill_switch_overrides_consumers() -> None:
    switch = TradingSwitch()
    assert switch.is_enabled("alpha")

    switch.set(None, False)
    assert not switch.is_enabled("alpha")
    assert "global kill switch" in (switch.why_disabled("alpha") or "")

    switch.set("alpha", False)
    switch.set(None, True)
    # Turning the kill switch back on does not re-enable a consumer switched off by hand.
    assert not switch.is_enabled("alpha")
    assert switch.is_enabled("beta")
    assert "consumer 'alpha'" in (switch.why_disabled("alpha") or "")
    assert switch.snapshot() == {"*": True, "alpha": False}


def test_starting_off_holds_everyone_behind_the_kill_switch_until_one_go() -> None:
    switch = TradingSwitch(global_on_start=False)
    assert not switch.global_enabled
    assert switch.own_enabled("alpha")  # each consumer's own switch starts on
    switch.set("alpha", True)  # a consumer's own switch cannot get past the kill switch
    assert not switch.is_enabled("alpha")
    assert "global kill switch" in (switch.why_disabled("alpha") or "")
    switch.set("beta", False)
    switch.set(None, True)  # the go restores each consumer's own switch
    assert switch.is_enabled("alpha")
    assert switch.why_disabled("alpha") is None
    assert switch.is_enabled("gamma")
    assert not switch.is_enabled("beta")


def test_apply_acks_and_refuses_unknown_consumer() -> None:
    switch = TradingSwitch(known_consumers=lambda: {"alpha"})
    ok = switch.apply(SetTradingMode(consumer_id="alpha", enabled=False, request_id="r1"))
    assert ok.ok
    assert ok.request_id == "r1"
    assert not switch.is_enabled("alpha")

    bad = switch.apply(SetTradingMode(consumer_id="ghost", enabled=False, request_id="r2"))
    assert not bad.ok
    assert "unknown consumer 'ghost'" in bad.error
    assert "alpha" in bad.error

    kill = switch.apply(SetTradingMode(consumer_id=None, enabled=False))
    assert kill.ok
    assert not switch.global_enabled


@pytest.mark.anyio
@pytest.mark.parametrize("scope", ["alpha", None])
async def test_order_while_off_is_suppressed_and_never_reaches_the_venue(
    harness, make_order, scope
) -> None:
    svc = harness.service()
    async with svc.running():
        ack = svc.set_trading_mode(SetTradingMode(consumer_id=scope, enabled=False))
        assert ack.ok

        result = await svc.submit(make_order("c1"))

        assert result.status is OrderStatus.SUPPRESSED
        assert result.reason == "trading_disabled"
        assert "SetTradingMode" in result.message
        assert harness.venue.submit_calls == 0
        assert [e["client_order_id"] for e in harness.telemetry.named("order.suppressed")] == ["c1"]
        reg = svc.metrics.registry
        assert reg.get_sample_value("tradegw_orders_suppressed_total", {"consumer": "alpha"}) == 1
        entries = await svc.journal.log_entries("fakex", "c1")
        assert [e.kind for e in entries] == ["suppressed:trading_disabled"]

        # A suppressed id is not burnt: once trading is back on, the same order goes out.
        svc.set_trading_mode(SetTradingMode(consumer_id=scope, enabled=True))
        again = await svc.submit(make_order("c1"))
        assert again.status is OrderStatus.ACCEPTED
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_config_can_start_with_trading_off_and_cancels_still_work(
    harness, make_order
) -> None:
    svc = harness.service(trading_enabled_on_start=False)
    async with svc.running():
        assert (await svc.submit(make_order("c1"))).status is OrderStatus.SUPPRESSED
        svc.switch.set("alpha", True)  # its own switch alone does not pass the kill switch
        assert (await svc.submit(make_order("c1"))).status is OrderStatus.SUPPRESSED
        assert harness.venue.submit_calls == 0
        svc.switch.set(None, True)
        assert (await svc.submit(make_order("c2"))).status is OrderStatus.ACCEPTED

        svc.switch.set(None, False)  # kill switch: new orders stop, cancels do not
        assert (await svc.submit(make_order("c3"))).status is OrderStatus.SUPPRESSED
        cancel = await svc.cancel(
            CancelRequest(
                client_order_id="c2", consumer_id="alpha", provider="fakex", symbol="BTC-USDT"
            )
        )
        assert cancel.ok
        assert harness.venue.orders["c2"].state == "CANCELLED"
        assert harness.venue.submit_calls == 1

"""Pre-trade risk checks: the built-ins, plugin checks, and the order config gives."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from tradegw_core.errors import ConfigError
from tradegw_core.orders import OrderPathSettings, RiskContext, build_risk_checks
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.orders import OrderStatus


@pytest.mark.anyio
async def test_max_notional_limits_limit_and_market_orders(harness, make_order) -> None:
    svc = harness.service(max_notional=Decimal(1000))
    async with svc.running():
        big = await svc.submit(make_order("c1", qty=Decimal("0.04"), price=Decimal("30000")))
        assert (big.status, big.reason) == (OrderStatus.REJECTED, "risk:max_notional")
        assert "1200.00 USDT exceeds max_notional 1000" in big.message
        assert "reduce qty to at most 0.0333" in big.message

        mkt = {"type": "MARKET", "price": None, "qty": Decimal("0.04")}
        blind = await svc.submit(make_order("m1", **mkt))
        assert blind.reason == "risk:max_notional"
        assert "no trade seen yet" in blind.message

        harness.prices[("fakex", "BTC-USDT")] = Decimal("20000")
        assert (await svc.submit(make_order("m1", **mkt))).status is OrderStatus.ACCEPTED
        assert harness.venue.submit_calls == 1
        reg = svc.metrics.registry
        labels = {"check": "max_notional"}
        assert reg.get_sample_value("tradegw_orders_risk_rejected_total", labels) == 2
        assert len(harness.telemetry.named("order.risk_rejected")) == 2


@pytest.mark.anyio
async def test_max_open_orders_counts_in_flight_and_frees_on_fill(harness, make_order) -> None:
    svc = harness.service(max_open_orders=2)
    async with svc.running():
        assert (await svc.submit(make_order("a"))).ok
        assert (await svc.submit(make_order("b"))).ok
        third = await svc.submit(make_order("c"))
        assert third.reason == "risk:max_open_orders"
        assert "2 open orders" in third.message
        assert "cancel some" in third.message
        # Another consumer has its own budget.
        assert (await svc.submit(make_order("x", consumer_id="beta"))).ok

        svc.on_exec_report(harness.venue.fill("a", "0.01"))
        assert (await svc.submit(make_order("c"))).ok
        assert harness.venue.submit_calls == 4


@pytest.mark.anyio
async def test_concurrent_submissions_cannot_overrun_max_open_orders(harness, make_order) -> None:
    svc = harness.service(max_open_orders=1)
    results = {}

    async def submit(cid: str) -> None:
        results[cid] = await svc.submit(make_order(cid))

    async with svc.running():
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for i in range(5):
                    tg.start_soon(submit, f"c{i}")
        accepted = [r for r in results.values() if r.status is OrderStatus.ACCEPTED]
        refused = [r for r in results.values() if r.status is OrderStatus.REJECTED]
        assert len(accepted) == 1
        assert len(refused) == 4
        assert {r.reason for r in refused} == {"risk:max_open_orders"}
        assert harness.venue.submit_calls == 1
        assert len(svc.open_orders("alpha")) == 1


@pytest.mark.anyio
async def test_a_refused_journal_write_gives_the_open_order_slot_back(harness, make_order) -> None:
    svc = harness.service(max_open_orders=1)
    async with svc.running():
        real_insert = svc.journal.insert_order

        async def broken(record):
            raise OSError("disk full")

        svc.journal.insert_order = broken  # type: ignore[method-assign]
        with pytest.raises(OSError, match="disk full"):
            await svc.submit(make_order("a"))
        assert svc.open_orders("alpha") == []
        svc.journal.insert_order = real_insert  # type: ignore[method-assign]
        assert (await svc.submit(make_order("a"))).ok
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_price_band_around_the_last_trade(harness, make_order) -> None:
    svc = harness.service(price_band_pct=5)
    async with svc.running():
        # No trade seen: the band cannot be drawn, the order goes.
        assert (await svc.submit(make_order("a", price=Decimal("50000")))).ok
        harness.prices[("fakex", "BTC-USDT")] = Decimal("30000")
        far = await svc.submit(make_order("b", price=Decimal("31600.00")))
        assert far.reason == "risk:price_band"
        assert "5.33% away" in far.message
        assert "28500" in far.message
        assert "31500" in far.message
        assert (await svc.submit(make_order("b", price=Decimal("31500.00")))).ok
        low = await svc.submit(make_order("c", price=Decimal("28000.00"), side="sell"))
        assert low.reason == "risk:price_band"


@pytest.mark.anyio
async def test_checks_run_in_config_order_and_plugins_add_their_own(harness, make_order) -> None:
    calls: list[str] = []

    class NoSells:
        name = "no_sells"

        def check(self, order, ctx: RiskContext) -> str | None:
            calls.append(order.client_order_id)
            assert ctx.instrument.symbol == "BTC-USDT"
            return "sells are switched off by the desk" if order.side == "sell" else None

    regs = Registries()
    regs.risk_checks.add("no_sells", lambda settings: NoSells(), plugin_id="desk")
    svc = harness.service(
        risk_checks=["no_sells", "max_notional"],
        max_notional=Decimal(10),
        risk_registry=regs.risk_checks,
    )
    async with svc.running():
        sell = await svc.submit(make_order("s1", side="sell"))
        assert (sell.reason, sell.message) == (
            "risk:no_sells",
            "sells are switched off by the desk",
        )
        buy = await svc.submit(make_order("b1"))
        assert buy.reason == "risk:max_notional"  # no_sells ran first and passed
        assert calls == ["s1", "b1"]
        # price_band is not configured, so a wild price passes the risk stage.
        harness.prices[("fakex", "BTC-USDT")] = Decimal("1")
        assert (await svc.submit(make_order("b2", qty=Decimal("0.6"), price=Decimal("9")))).ok


def test_unknown_or_clashing_check_names_fail_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"unknown check 'typo'.*max_notional"):
        build_risk_checks(OrderPathSettings(risk_checks=("typo",)))
    regs = Registries()
    regs.risk_checks.add("price_band", lambda s: None, plugin_id="other")
    with pytest.raises(ConfigError, match="built in and also registered by plugin 'other'"):
        build_risk_checks(OrderPathSettings(), regs.risk_checks)


def test_settings_read_from_any_object() -> None:
    class Section:
        journal_path = "/tmp/x.sqlite"
        risk_checks = ["price_band"]
        max_notional = 5000
        price_band_pct = 2.5

    s = OrderPathSettings.from_settings(Section())
    assert s.risk_checks == ("price_band",)
    assert s.max_notional == Decimal(5000)
    assert s.price_band_pct == Decimal("2.5")
    assert s.max_open_orders == 50
    assert s.trading_enabled_on_start
    assert OrderPathSettings.from_settings({"max_open_orders": 3}).max_open_orders == 3


def test_settings_from_the_gateway_config_model() -> None:
    from tradegw_core.config import models

    section = models.OrdersSettings(max_notional="250", risk_checks=("max_notional",))
    s = OrderPathSettings.from_settings(section)
    assert s.max_notional == Decimal(250)
    assert s.risk_checks == ("max_notional",)
    assert s.journal_path.name == section.journal_path
    assert s.submit_timeout_s == section.submit_timeout_s
    tuned = models.OrdersSettings(query_attempts=2, report_buffer=16, reconcile_wait_s=0)
    s = OrderPathSettings.from_settings(tuned)
    assert (s.query_attempts, s.report_buffer, s.reconcile_wait_s) == (2, 16, 0)
    with pytest.raises(ValueError, match="query_attempts"):
        models.OrdersSettings(query_attempts=0)

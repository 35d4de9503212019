"""Validation: every refusal says what to change, and nothing reaches the venue."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from tradegw_core.schema.orders import OrderStatus
from tradegw_core.schema.symbols import Symbol


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fields", "reason", "words"),
    [
        ({"client_order_id": "has space"}, "bad_client_order_id", ["not valid on fakex", "1-36"]),
        ({"symbol": "BTC-USDC"}, "unknown_symbol", ["unknown symbol 'BTC-USDC'", "BTC-USDT"]),
        ({"qty": Decimal("0.00015")}, "qty_step", ["qty step 0.0001", "0.0001 or 0.0002"]),
        ({"price": Decimal("30000.005")}, "price_step", ["price step 0.01", "30000 or 30000.01"]),
        ({"qty": Decimal("101")}, "max_qty", ["above the maximum 100"]),
        (
            {"qty": Decimal("0.0001"), "price": Decimal("100.00")},
            "min_notional",
            ["below the minimum 5", "at least 0.0500"],
        ),
        ({"provider": "nowhere"}, "unknown_provider", ["unknown provider 'nowhere'", "fakex"]),
    ],
)
async def test_invalid_orders_are_rejected_with_an_actionable_message(
    harness, make_order, fields, reason, words
) -> None:
    svc = harness.service()
    async with svc.running():
        result = await svc.submit(make_order("c1", **fields))

        assert result.status is OrderStatus.REJECTED
        assert result.reason == reason
        for word in words:
            assert word in result.message
        assert harness.venue.submit_calls == 0
        cid = fields.get("client_order_id", "c1")
        entries = await svc.journal.log_entries(fields.get("provider", "fakex"), cid)
        assert [e.kind for e in entries] == [f"rejected:{reason}"]
        # A locally refused id is not burnt: the corrected order goes out.
        if reason != "unknown_provider":
            assert (await svc.submit(make_order("c1"))).status is OrderStatus.ACCEPTED
            assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_min_qty_and_market_min_notional_use_the_last_trade(harness, make_order) -> None:
    inst = harness.venue._instruments
    inst[Symbol("BTC-USDT")] = msgspec.structs.replace(
        inst[Symbol("BTC-USDT")], min_qty=Decimal("0.001")
    )
    svc = harness.service()
    async with svc.running():
        low = await svc.submit(make_order("c1", qty=Decimal("0.0005")))
        assert (low.reason, "below the minimum 0.001" in low.message) == ("min_qty", True)

        # A market order has no price: without a trade the venue's minimum cannot be checked
        # locally (the venue will), with one it is.
        mkt = {"type": "MARKET", "price": None, "qty": Decimal("0.001")}
        harness.prices[("fakex", "BTC-USDT")] = Decimal("1000")
        refused = await svc.submit(make_order("m1", **mkt))
        assert refused.reason == "min_notional"
        harness.prices[("fakex", "BTC-USDT")] = Decimal("30000")
        assert (await svc.submit(make_order("m1", **mkt))).status is OrderStatus.ACCEPTED


@pytest.mark.anyio
async def test_a_raw_mapping_with_missing_fields_names_them(harness) -> None:
    svc = harness.service()
    async with svc.running():
        result = await svc.submit(
            {"client_order_id": "c9", "consumer_id": "alpha", "provider": "fakex"}
        )
        assert result.status is OrderStatus.REJECTED
        assert result.reason == "invalid"
        for name in ("symbol", "side", "qty"):
            assert f"missing field '{name}'" in result.message
        assert result.client_order_id == "c9"

        priced_market = await svc.submit(
            {
                "client_order_id": "c10",
                "consumer_id": "alpha",
                "provider": "fakex",
                "symbol": "BTC-USDT",
                "side": "buy",
                "qty": "1",
                "type": "MARKET",
                "price": "10",
            }
        )
        assert priced_market.reason == "invalid"
        assert "MARKET order takes no price" in priced_market.message
        assert harness.venue.submit_calls == 0


@pytest.mark.anyio
async def test_a_submission_before_the_service_runs_is_refused(harness, make_order) -> None:
    svc = harness.service()
    result = await svc.submit(make_order("c1"))
    assert (result.status, result.reason) == (OrderStatus.REJECTED, "not_running")
    assert harness.venue.submit_calls == 0

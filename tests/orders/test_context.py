"""The consumer's view of the order path: open orders and cancel-all through ConsumerContext."""

from __future__ import annotations

import pytest

from tradegw_core.consumer.context import ConsumerContext
from tradegw_core.schema.events import ExecState


def context(harness, consumer_id: str, service) -> ConsumerContext:
    # The control bus is not used by the order methods: a stand-in that fails loudly.
    return ConsumerContext(
        consumer_id, control=object(), clock=harness.clock, order_service=service
    )  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_open_orders_lists_only_this_consumers_open_orders(harness, make_order) -> None:
    svc = harness.service()
    alpha, beta = context(harness, "alpha", svc), context(harness, "beta", svc)
    async with svc.running():
        assert (await alpha.submit_order(make_order("a1", decision_id="d-1"))).ok
        assert (await alpha.submit_order(make_order("a2", symbol="ETH-USDT"))).ok
        assert (await beta.submit_order(make_order("b1", consumer_id="beta"))).ok
        svc.on_exec_report(harness.venue.fill("a2", "0.01"))  # filled: no longer open
        await svc.pipeline.wait_flushed()

        mine = alpha.open_orders()
        assert [(o.client_order_id, o.state, o.decision_id) for o in mine] == [
            ("a1", ExecState.ACK, "d-1")
        ]
        assert [o.client_order_id for o in beta.open_orders()] == ["b1"]


@pytest.mark.anyio
async def test_cancel_all_cancels_this_consumers_orders_and_can_be_narrowed(
    harness, make_order
) -> None:
    svc = harness.service()
    alpha, beta = context(harness, "alpha", svc), context(harness, "beta", svc)
    async with svc.running():
        for cid, symbol in (("a1", "BTC-USDT"), ("a2", "ETH-USDT"), ("a3", "BTC-USDT")):
            assert (await alpha.submit_order(make_order(cid, symbol=symbol))).ok
        assert (await beta.submit_order(make_order("b1", consumer_id="beta"))).ok

        eth = await alpha.cancel_all(symbol="ETH-USDT")
        assert [(r.client_order_id, r.ok) for r in eth] == [("a2", True)]
        assert await alpha.cancel_all(provider="elsewhere") == []
        rest = await alpha.cancel_all()
        assert sorted(r.client_order_id for r in rest) == ["a1", "a3"]
        assert all(r.ok for r in rest)
        await svc.pipeline.wait_flushed()

        assert alpha.open_orders() == []
        assert [o.client_order_id for o in beta.open_orders()] == ["b1"]  # untouched
        assert harness.venue.orders["b1"].state is ExecState.ACK
        assert harness.venue.cancel_calls == 3


@pytest.mark.anyio
async def test_without_an_order_service_there_is_nothing_open_and_nothing_to_cancel(
    harness,
) -> None:
    ctx = context(harness, "alpha", None)
    assert ctx.open_orders() == []
    assert await ctx.cancel_all() == []

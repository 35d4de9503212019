"""client_order_id dedup: a duplicate returns the first result and sends nothing."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import OrderStatus


@pytest.mark.anyio
async def test_duplicate_returns_the_first_result_and_sends_nothing(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        first = await svc.submit(make_order("c1"))
        assert first.status is OrderStatus.ACCEPTED
        assert first.ok

        # Even with a different body: the id is what identifies the order.
        dup = await svc.submit(make_order("c1", qty=Decimal("0.02")))

        assert dup.status is OrderStatus.DUPLICATE
        assert dup.first == first
        assert dup.ok
        assert dup.state is ExecState.ACK
        assert dup.venue_order_id == first.venue_order_id
        assert harness.venue.submit_calls == 1
        assert harness.telemetry.named("order.duplicate") == [
            {"consumer_id": "alpha", "provider": "fakex", "client_order_id": "c1"}
        ]
        reg = svc.metrics.registry
        assert reg.get_sample_value("tradegw_orders_duplicate_total", {"consumer": "alpha"}) == 1

        # The duplicate reports the order's state now, the first result stays as it was.
        svc.on_exec_report(harness.venue.fill("c1", "0.01"))
        await harness.sink.wait_for(2)
        later = await svc.submit(make_order("c1"))
        assert later.state is ExecState.FILLED
        assert later.first == first


@pytest.mark.anyio
async def test_concurrent_twins_send_once(harness, make_order) -> None:
    svc = harness.service()
    gate = anyio.Event()
    harness.venue.submit_mode = "ok"
    results = []

    async def submit() -> None:
        results.append(await svc.submit(make_order("c1")))

    async with svc.running():
        original = harness.venue.submit

        async def slow_submit(order):  # the first send is in flight when the twin arrives
            await gate.wait()
            return await original(order)

        harness.venue.submit = slow_submit
        async with anyio.create_task_group() as tg:
            tg.start_soon(submit)
            tg.start_soon(submit)
            await anyio.wait_all_tasks_blocked()
            gate.set()

    statuses = sorted(r.status for r in results)
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.DUPLICATE]
    assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_another_consumer_cannot_see_the_first_result(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
        other = await svc.submit(make_order("c1", consumer_id="beta"))
        assert other.status is OrderStatus.DUPLICATE
        assert other.first is None
        assert "another consumer" in other.message
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_a_venue_rejection_is_remembered(harness, make_order) -> None:
    svc = harness.service()
    harness.venue.submit_mode = "reject"
    async with svc.running():
        first = await svc.submit(make_order("c1"))
        assert (first.status, first.reason) == (OrderStatus.REJECTED, "venue_rejected")
        assert "insufficient balance" in first.message
        assert "-2010" in first.message
        await harness.sink.wait_for(1)
        assert harness.sink.states("c1") == [ExecState.REJECTED]
        assert svc.open_orders("alpha") == []

        harness.venue.submit_mode = "ok"
        dup = await svc.submit(make_order("c1"))
        assert dup.status is OrderStatus.DUPLICATE
        assert not dup.ok
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_dedup_expires_after_the_retention(harness, make_order) -> None:
    svc = harness.service(dedup_retention_s=3600)
    async with svc.running():
        await svc.submit(make_order("done"))
        await svc.submit(make_order("open"))
        svc.on_exec_report(harness.venue.fill("done", "0.01"))
        await harness.sink.wait_for(3)

        harness.clock.advance(3599)
        assert await svc.purge() == 0
        harness.clock.advance(2)
        # Only the finished order goes; the open one is kept whatever its age.
        assert await svc.purge() == 1
        assert [o.client_order_id for o in svc.open_orders("alpha")] == ["open"]

        again = await svc.submit(make_order("done"))
        assert again.status is OrderStatus.ACCEPTED
        assert (await svc.submit(make_order("open"))).status is OrderStatus.DUPLICATE
        assert harness.venue.submit_calls == 3

"""How the service meets its neighbours: adapters' emit, immediate fills, cancellation,
journal failures, a provider that is gone after a restart."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from tradegw_core.errors import TradegwError
from tradegw_core.journal import JournalStore
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import OrderStatus


@pytest.mark.anyio
async def test_an_immediate_fill_in_the_ack_reaches_the_consumer(harness, make_order) -> None:
    harness.venue.submit_mode = "filled_now"
    harness.prices[("fakex", "BTC-USDT")] = Decimal("30000")
    svc = harness.service()
    async with svc.running():
        result = await svc.submit(make_order("m1", type="MARKET", price=None))
        assert result.status is OrderStatus.ACCEPTED
        assert result.state is ExecState.FILLED
        await harness.sink.wait_for(1)
        assert harness.sink.states("m1") == [ExecState.FILLED]  # no made-up ACK before it
        assert harness.sink.items[0][1].provider == "fakex"
        assert svc.open_orders("alpha") == []


@pytest.mark.anyio
async def test_the_emitter_names_the_provider_for_the_adapter(harness, make_order) -> None:
    svc = harness.service()
    emit = svc.emitter("fakex")
    async with svc.running():
        await svc.submit(make_order("c1"))
        report = harness.venue.fill("c1", "0.005")
        report.provider = ""
        emit(report)
        await harness.sink.wait_for(2)
        assert harness.sink.states("c1") == [ExecState.ACK, ExecState.PARTIAL]
        assert svc.open_orders("alpha")[0].cum_qty == Decimal("0.005")


@pytest.mark.anyio
async def test_a_consumer_cancelled_mid_send_still_gets_its_order_journaled(
    harness, make_order
) -> None:
    gate = anyio.Event()
    original = harness.venue.submit

    async def gated(order):
        await gate.wait()
        return await original(order)

    harness.venue.submit = gated
    svc = harness.service()
    async with svc.running():
        async with anyio.create_task_group() as tg:

            async def consumer() -> None:
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    await svc.submit(make_order("c1"))

            scopes: list[anyio.CancelScope] = []
            tg.start_soon(consumer)
            await anyio.wait_all_tasks_blocked()
            scopes[0].cancel()  # the strategy gives up while the order is on the wire
            gate.set()
        await harness.sink.wait_for(1)
        assert harness.sink.states("c1") == [ExecState.ACK]
        assert (await svc.submit(make_order("c1"))).status is OrderStatus.DUPLICATE
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_twins_of_a_locally_refused_order_are_each_checked(harness, make_order) -> None:
    svc = harness.service()
    results = []
    async with svc.running(), anyio.create_task_group() as tg:
        for _ in range(2):
            bad = make_order("c1", qty=Decimal("0.00015"))
            tg.start_soon(lambda o=bad: _append(results, svc.submit(o)))
    assert [(r.status, r.reason) for r in results] == [(OrderStatus.REJECTED, "qty_step")] * 2
    assert harness.venue.submit_calls == 0


async def _append(results, coro) -> None:
    results.append(await coro)


@pytest.mark.anyio
async def test_an_order_of_a_provider_gone_after_restart_is_reported_unresolved(
    harness, make_order
) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
    svc2 = harness.service()
    svc2._adapters = {}  # the plugin was disabled in the new config
    svc2._resolver._adapters = {}
    svc2.venues._adapters = {}
    svc2.venues._reconciled = {}
    async with svc2.running():
        assert harness.telemetry.named("order.unresolved")[-1]["reason"] == (
            "no order adapter for this provider"
        )
        assert [o.client_order_id for o in svc2.open_orders("alpha")] == ["c1"]


def test_the_journal_reports_a_file_it_cannot_open(tmp_path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(TradegwError, match="cannot open the order journal"):
        JournalStore(tmp_path / "dir.sqlite").open()
    with pytest.raises(TradegwError, match="is not open"):
        JournalStore(tmp_path / "x.sqlite").load()


def test_the_journal_uses_wal(tmp_path) -> None:
    store = JournalStore(tmp_path / "j.sqlite")
    store.open()
    try:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()
        store.close()  # idempotent

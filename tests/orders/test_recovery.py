"""Restart, reconciliation and exactly-once under faults: query, never resend."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import anyio
import pytest

from tradegw_core.journal import JournalRecord, JournalStore, OrderPhase
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import OrderStatus

A, P, F, R = ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED, ExecState.REJECTED


def _phase(path, cid: str) -> tuple[str, str | None]:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT phase, state FROM orders WHERE client_order_id = ?", (cid,)
        ).fetchone()
    return row[0], row[1]


@pytest.mark.anyio
async def test_the_order_is_journaled_before_it_is_sent(harness, make_order) -> None:
    seen = []
    harness.venue.on_submit = lambda order: seen.append(_phase(harness.path, order.client_order_id))
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
    assert seen == [("SENDING", None)]
    assert _phase(harness.path, "c1") == ("SENT", "ACK")


@pytest.mark.anyio
async def test_restart_keeps_dedup_and_reconciles_open_orders(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        first = await svc.submit(make_order("open-moved"))
        await svc.submit(make_order("open-same"))
        await svc.submit(make_order("done"))
        svc.on_exec_report(harness.venue.fill("done", "0.01"))
        await harness.sink.wait_for(4)

    # While the gateway is down the venue fills part of one order.
    harness.venue.fill("open-moved", "0.004")
    sink_before = len(harness.sink.items)

    svc2 = harness.service()
    async with svc2.running():
        told = harness.sink.items[sink_before:]
        # Every open order is queried and its owner told, changed or not; finished ones not.
        assert sorted((c, r.client_order_id, r.state) for c, r in told) == [
            ("alpha", "open-moved", P),
            ("alpha", "open-same", A),
        ]
        assert harness.venue.query_calls == 2
        assert harness.telemetry.named("order.reconciled")[-1] == {"orders": 2, "provider": "fakex"}
        open_now = {o.client_order_id: (o.state, o.cum_qty) for o in svc2.open_orders("alpha")}
        assert open_now == {"open-moved": (P, Decimal("0.004")), "open-same": (A, Decimal(0))}

        again = await svc2.submit(make_order("open-moved"))
        assert again.status is OrderStatus.DUPLICATE
        assert again.first == first
        assert again.state is P
        assert (await svc2.submit(make_order("done"))).status is OrderStatus.DUPLICATE
        assert harness.venue.submit_calls == 3

        # The tracker carries on from the reconciled state.
        svc2.on_exec_report(harness.venue.fill("open-moved", "0.006"))
        await harness.sink.wait_for(sink_before + 3)
        assert harness.sink.states("open-moved")[-1] is F


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["lost_after", "hang"])
async def test_a_lost_answer_is_resolved_by_query_not_resend(harness, make_order, fault) -> None:
    harness.venue.submit_mode = fault
    harness.venue.query_fails = 2  # the venue is flaky for a moment too
    svc = harness.service(submit_timeout_s=0.2)
    async with svc.running():
        result = await svc.submit(make_order("c1"))
        assert result.status is OrderStatus.UNKNOWN
        assert result.ok
        assert "do not resend" in result.message
        await harness.sink.wait_for(1)

        assert list(harness.venue.orders) == ["c1"]  # exactly one order on the venue
        assert harness.venue.submit_calls == 1
        assert harness.venue.query_calls == 3
        ((consumer, report),) = harness.sink.items
        assert (consumer, report.state, report.venue_order_id) == ("alpha", A, "1001")
        assert svc.open_orders("alpha")[0].state is A
        assert _phase(harness.path, "c1") == ("SENT", "ACK")

        dup = await svc.submit(make_order("c1"))
        assert dup.status is OrderStatus.DUPLICATE
        assert dup.state is A
        assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_an_order_the_venue_never_saw_is_rejected_after_the_queries(
    harness, make_order
) -> None:
    harness.venue.submit_mode = "lost_before"
    svc = harness.service(query_attempts=3)
    async with svc.running():
        result = await svc.submit(make_order("c1"))
        assert result.status is OrderStatus.UNKNOWN
        await harness.sink.wait_for(1)
        ((_, report),) = harness.sink.items
        assert report.state is R
        assert report.reason.startswith("not_received")
        assert harness.venue.query_calls == 3
        assert harness.venue.submit_calls == 1
        assert svc.open_orders("alpha") == []
        assert _phase(harness.path, "c1") == ("REJECTED", "REJECTED")


@pytest.mark.anyio
async def test_an_unresolved_order_stays_open_and_is_resolved_at_the_next_start(
    harness, make_order
) -> None:
    harness.venue.submit_mode = "lost_after"
    harness.venue.query_fails = 3
    svc = harness.service(query_attempts=3)
    async with svc.running():
        await svc.submit(make_order("c1"))
        await harness.telemetry.wait_for("order.unresolved")
        assert [o.state for o in svc.open_orders("alpha")] == [None]
        assert harness.sink.items == []

    svc2 = harness.service()
    async with svc2.running():
        assert harness.sink.states("c1") == [A]
    assert harness.venue.submit_calls == 1


@pytest.mark.anyio
async def test_a_crash_between_journal_and_send_is_resolved_by_query(harness, make_order) -> None:
    # What a crash leaves behind: two orders journaled as SENDING with no answer. One reached
    # the venue before the process died, the other never left.
    store = JournalStore(harness.path)
    store.open()
    for cid in ("reached", "never-sent"):
        req = make_order(cid)
        store.insert_order(
            JournalRecord(
                provider="fakex",
                client_order_id=cid,
                consumer_id="alpha",
                symbol="BTC-USDT",
                request=req.model_dump_json(),
                trace_id="t-" + cid,
                phase=OrderPhase.SENDING,
                state=None,
                cum_qty=Decimal(0),
                venue_order_id=None,
                result=None,
                created_ns=harness.clock.time_ns(),
                updated_ns=harness.clock.time_ns(),
            )
        )
    store.close()
    harness.venue._place(make_order("reached"))

    svc = harness.service(query_attempts=2)
    async with svc.running():
        told = {r.client_order_id: r for _, r in harness.sink.items}
        assert told["reached"].state is A
        assert told["reached"].trace_id == "t-reached"
        assert told["never-sent"].state is R
        assert "not_received" in told["never-sent"].reason
        assert harness.venue.submit_calls == 0  # resolved by query, never by resending
        assert [o.client_order_id for o in svc.open_orders("alpha")] == ["reached"]

        dup = await svc.submit(make_order("never-sent"))
        assert dup.status is OrderStatus.DUPLICATE
        assert dup.first is not None
        assert dup.first.status is OrderStatus.UNKNOWN
        assert harness.venue.submit_calls == 0


@pytest.mark.anyio
async def test_a_slow_venue_does_not_hold_up_start_up(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
    gate = anyio.Event()
    original = harness.venue.query

    async def slow_query(symbol, cid):
        await gate.wait()
        return await original(symbol, cid)

    harness.venue.query = slow_query
    before = len(harness.sink.items)
    svc2 = harness.service(reconcile_wait_s=0)
    async with svc2.running():
        # Ready although the venue has not answered; the order still counts and dedups.
        assert (await svc2.submit(make_order("c1"))).status is OrderStatus.DUPLICATE
        assert len(svc2.open_orders("alpha")) == 1
        gate.set()
        await harness.sink.wait_for(before + 1)
        assert harness.sink.states("c1")[-1] is A

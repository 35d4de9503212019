"""Execution reports: the transition rules, the tracker, and delivery in order."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import pytest

from tradegw_core.orders import Verdict, check_transition
from tradegw_core.schema.events import ExecState

A, P, F, C, R, E = (
    ExecState.ACK,
    ExecState.PARTIAL,
    ExecState.FILLED,
    ExecState.CANCELLED,
    ExecState.REJECTED,
    ExecState.EXPIRED,
)
D = Decimal


@pytest.mark.parametrize(
    ("prev", "prev_cum", "new", "new_cum", "verdict", "why"),
    [
        (None, D(0), A, D(0), Verdict.APPLY, ""),
        (None, D(0), F, D(1), Verdict.APPLY, ""),  # the first thing heard may be final
        (A, D(0), A, D(0), Verdict.DUPLICATE, ""),
        (A, D(0), P, D("0.4"), Verdict.APPLY, ""),
        (P, D("0.4"), P, D("0.4"), Verdict.DUPLICATE, ""),
        (P, D("0.4"), P, D("0.7"), Verdict.APPLY, ""),
        (P, D(1), F, D(1), Verdict.APPLY, ""),  # Kraken: partially_filled, then filled
        (P, D("0.4"), C, D("0.4"), Verdict.APPLY, ""),
        (A, D(0), E, D(0), Verdict.APPLY, ""),
        (A, D(0), R, D(0), Verdict.APPLY, ""),
        (F, D(1), F, D(1), Verdict.DUPLICATE, ""),
        (F, D(1), P, D(1), Verdict.INVALID, "FILLED is final"),
        (C, D(0), A, D(0), Verdict.INVALID, "CANCELLED is final"),
        (P, D("0.7"), P, D("0.4"), Verdict.INVALID, "cum_qty went down from 0.7 to 0.4"),
        (P, D("0.4"), A, D("0.4"), Verdict.INVALID, "ACK cannot follow PARTIAL"),
        (P, D("0.4"), R, D("0.4"), Verdict.INVALID, "with fills cannot be REJECTED"),
    ],
)
def test_transition_rules(prev, prev_cum, new, new_cum, verdict, why) -> None:
    got, reason = check_transition(prev, prev_cum, new, new_cum)
    assert got is verdict
    assert why in reason


@pytest.mark.anyio
async def test_reports_are_journaled_then_delivered_to_the_owner(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1", decision_id="d-42"))
        await svc.submit(make_order("b1", consumer_id="beta"))
        svc.on_exec_report(harness.venue.fill("c1", "0.004"))
        svc.on_exec_report(harness.venue.fill("b1", "0.01"))
        svc.on_exec_report(harness.venue.fill("c1", "0.006"))
        await harness.sink.wait_for(5)

        assert [(c, r.client_order_id, r.state) for c, r in harness.sink.items] == [
            ("alpha", "c1", A),
            ("beta", "b1", A),
            ("alpha", "c1", P),
            ("beta", "b1", F),
            ("alpha", "c1", F),
        ]
        c1 = [r for _, r in harness.sink.items if r.client_order_id == "c1"]
        assert {r.decision_id for r in c1} == {"d-42"}
        assert len({r.trace_id for r in c1}) == 1
        assert c1[0].trace_id
        kinds = [e.kind for e in await svc.journal.log_entries("fakex", "c1")]
        assert kinds == ["request", "phase:SENT", "report", "report", "report"]
        assert svc.open_orders("alpha") == []
        assert svc.open_orders("beta") == []


@pytest.mark.anyio
async def test_impossible_and_repeated_reports_are_not_delivered(
    harness, make_order, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="tradegw.orders")
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1", decision_id="d-1"))
        filled = harness.venue.fill("c1", "0.01")
        svc.on_exec_report(filled)
        svc.on_exec_report(filled)  # the same report twice (e.g. after a reconnect)
        late = harness.venue.report("c1")
        late.state = P  # a stale PARTIAL arriving after FILLED
        svc.on_exec_report(late)
        stranger = harness.venue.report("c1")
        stranger.client_order_id = "not-ours"
        svc.on_exec_report(stranger)
        await harness.sink.wait_for(2)

        assert harness.sink.states("c1") == [A, F]
        assert harness.telemetry.named("order.invalid_transition") == [
            {
                "provider": "fakex",
                "client_order_id": "c1",
                "consumer_id": "alpha",
                "from_state": "FILLED",
                "to_state": "PARTIAL",
                "reason": "FILLED is final; PARTIAL cannot follow it",
            }
        ]
        assert harness.telemetry.named("order.unowned_report")[0]["client_order_id"] == "not-ours"
        reg = svc.metrics.registry
        assert (
            reg.get_sample_value("tradegw_orders_invalid_transitions_total", {"provider": "fakex"})
            == 1
        )
        assert (
            reg.get_sample_value("tradegw_orders_duplicate_reports_total", {"provider": "fakex"})
            == 1
        )
    transitions = [r for r in caplog.records if "->" in r.getMessage()]
    assert [r.getMessage().split(" ", 2)[2] for r in transitions] == [
        "None -> ACK cum_qty=0",
        "ACK -> FILLED cum_qty=0.01",
        "refused FILLED -> PARTIAL: FILLED is final; PARTIAL cannot follow it",
    ]
    assert all(r.decision_id == "d-1" and r.trace_id for r in transitions)


@pytest.mark.anyio
async def test_ten_thousand_reports_all_arrive_in_order(harness, make_order) -> None:
    svc = harness.service(max_open_orders=100)
    n_orders, fills = 20, 500  # 20 orders x 500 partial fills = 10,000 reports
    async with svc.running():
        for i in range(n_orders):
            await svc.submit(make_order(f"o{i}", qty=Decimal("5"), price=Decimal("1.00")))
        await harness.sink.wait_for(n_orders)
        sent = []
        for _step in range(fills):
            for i in range(n_orders):  # interleaved across orders, as a user stream would
                report = harness.venue.fill(f"o{i}", "0.01")
                svc.on_exec_report(report)
                sent.append(report.event_id)
        await harness.sink.wait_for(n_orders + n_orders * fills)

    got = [r.event_id for _, r in harness.sink.items[n_orders:]]
    assert len(got) == 10_000
    assert got == sent
    last = {r.client_order_id: r for _, r in harness.sink.items}
    assert {r.state for r in last.values()} == {F}
    assert svc.pipeline.delivered == 10_000 + n_orders


@pytest.mark.anyio
async def test_a_full_backlog_queues_and_counts_and_delivers_every_report_in_order(
    harness, make_order
) -> None:
    # The consumer's hand-off is stalled (it blocks the pipeline task) while the adapter
    # keeps emitting: nothing may be refused, since the adapter already recorded each report.
    release = anyio.Event()
    stalled = anyio.Event()
    sink = harness.sink
    svc = harness.service(report_buffer=2)
    async with svc.running():
        await svc.submit(make_order("c1", qty=Decimal("1"), price=Decimal("100.00")))
        await sink.wait_for(1)
        real_flush = svc.pipeline._flush

        async def slow_flush(batch):
            stalled.set()
            await release.wait()
            await real_flush(batch)

        svc.pipeline._flush = slow_flush  # type: ignore[method-assign]
        sent = []
        try:
            first = harness.venue.fill("c1", "0.1")
            svc.on_exec_report(first)
            with anyio.fail_after(5):
                await stalled.wait()  # the pipeline holds `first`; the queue is empty
            sent.append(first.event_id)
            for _ in range(8):  # 0.2 .. 0.9 PARTIAL
                report = harness.venue.fill("c1", "0.1")
                svc.on_exec_report(report)  # never refused, never raises
                sent.append(report.event_id)
            last = harness.venue.fill("c1", "0.1")  # the FILLED that must never vanish
            svc.on_exec_report(last)
            sent.append(last.event_id)
            assert svc.pipeline.pending == 9
            assert svc.pipeline.over_capacity == 7  # 9 queued with room for 2
            backlog = harness.telemetry.named("order.report_backlog")
            assert len(backlog) == 1  # rate-limited: one alert per interval, not one per report
            assert backlog[0]["capacity"] == 2
            over = svc.metrics.registry.get_sample_value(
                "tradegw_orders_report_over_capacity_total", {"provider": "fakex"}
            )
            assert over == 7
        finally:
            release.set()  # even when an assertion failed: the shielded flush must end
        await sink.wait_for(1 + len(sent))
    got = [r.event_id for _, r in sink.items[1:]]
    assert got == sent
    assert sink.states("c1")[-1] is F
    assert [r.cum_qty for _, r in sink.items][-1] == D("1.0")


@pytest.mark.anyio
async def test_a_raising_consumer_sink_does_not_stop_the_others(harness, make_order) -> None:
    delivered = []

    def deliver(consumer_id, report):
        if consumer_id == "alpha":
            raise RuntimeError("lane gone")
        delivered.append(report.client_order_id)

    harness.sink = deliver  # type: ignore[assignment]
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("a1"))
        await svc.submit(make_order("b1", consumer_id="beta"))
    assert delivered == ["b1"]
    assert harness.telemetry.named("exec_report.undeliverable")[0]["consumer_id"] == "alpha"


@pytest.mark.anyio
async def test_the_venue_ack_arriving_after_the_user_streams_fill_is_stale_not_invalid(
    harness, make_order
) -> None:
    from tradegw_core.contracts_orders import SubmitAck

    svc = harness.service()
    venue_submit = harness.venue.submit

    async def submit(order):
        ack = await venue_submit(order)
        ack_report = harness.venue.report(order.client_order_id)  # ACK, cum 0
        # The user stream beats the HTTP answer: the FILLED is taken first.
        svc.on_exec_report(harness.venue.fill(order.client_order_id, str(order.qty)))
        return SubmitAck(
            client_order_id=ack.client_order_id,
            venue_order_id=ack.venue_order_id,
            report=ack_report,
        )

    harness.venue.submit = submit  # type: ignore[method-assign]
    async with svc.running():
        result = await svc.submit(make_order("c1"))
        await svc.pipeline.wait_flushed()
    assert result.ok
    assert result.state is F  # the newest state, not the ack's
    assert harness.sink.states("c1") == [F]
    assert harness.telemetry.named("order.invalid_transition") == []
    stale = harness.telemetry.named("order.stale_report")
    assert stale == [
        {"provider": "fakex", "client_order_id": "c1", "state": "ACK", "current": "FILLED"}
    ]
    assert (
        svc.metrics.registry.get_sample_value(
            "tradegw_orders_stale_reports_total", {"provider": "fakex"}
        )
        == 1
    )


@pytest.mark.anyio
async def test_an_ack_after_rejected_is_still_an_invalid_transition(harness, make_order) -> None:
    harness.venue.submit_mode = "reject"
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
        harness.venue._place(make_order("c1"))
        svc.on_exec_report(harness.venue.report("c1"))  # the venue has it after all: shout
    assert harness.telemetry.named("order.invalid_transition")[0]["to_state"] == "ACK"
    assert harness.telemetry.named("order.stale_report") == []

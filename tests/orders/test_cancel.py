"""Cancels: ownership, state, venue answers, cancel-all, lost answers."""

from __future__ import annotations

import pytest

from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import CancelRequest


def cancel_req(cid: str, consumer: str = "alpha", symbol: str = "BTC-USDT") -> CancelRequest:
    return CancelRequest(client_order_id=cid, consumer_id=consumer, provider="fakex", symbol=symbol)


@pytest.mark.anyio
async def test_cancel_goes_to_the_venue_and_the_consumer_hears_it(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
        await harness.sink.wait_for(1)
        result = await svc.cancel(cancel_req("c1"))
        assert result.ok
        assert result.state is ExecState.CANCELLED
        await harness.sink.wait_for(2)
        assert harness.sink.states("c1") == [ExecState.ACK, ExecState.CANCELLED]
        assert svc.open_orders("alpha") == []
        kinds = [e.kind for e in await svc.journal.log_entries("fakex", "c1")]
        assert kinds == ["request", "phase:SENT", "report", "cancel", "report"]


@pytest.mark.anyio
async def test_cancel_refusals_say_why(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
        await svc.submit(make_order("done"))
        svc.on_exec_report(harness.venue.fill("done", "0.01"))
        await harness.sink.wait_for(3)

        cases = {
            "unknown_order": cancel_req("nope"),
            "not_open": cancel_req("done"),
            "invalid": cancel_req("c1", symbol="ETH-USDT"),
        }
        for reason, req in cases.items():
            res = await svc.cancel(req)
            assert (res.ok, res.reason) == (False, reason)
        # Another consumer cannot cancel alpha's order, nor learn that it exists.
        other = await svc.cancel(cancel_req("c1", consumer="beta"))
        assert other.reason == "unknown_order"
        assert "already FILLED" in (await svc.cancel(cancel_req("done"))).message

        harness.venue.cancel_mode = "reject"
        rejected = await svc.cancel(cancel_req("c1"))
        assert (rejected.ok, rejected.reason, rejected.state) == (
            False,
            "venue_rejected",
            ExecState.ACK,
        )
        assert "Unknown order sent." in rejected.message
        assert harness.venue.cancel_calls == 1


@pytest.mark.anyio
async def test_a_lost_cancel_answer_is_followed_by_a_query(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("c1"))
        await harness.sink.wait_for(1)
        harness.venue.cancel_mode = "lost"
        harness.venue.orders["c1"].state = ExecState.CANCELLED  # it did reach the venue
        res = await svc.cancel(cancel_req("c1"))
        assert (res.ok, res.reason) == (False, "outcome_unknown")
        await harness.sink.wait_for(2)
        assert harness.sink.states("c1")[-1] is ExecState.CANCELLED
        assert harness.venue.query_calls == 1


@pytest.mark.anyio
async def test_cancel_all_takes_only_the_consumers_matching_orders(harness, make_order) -> None:
    svc = harness.service()
    async with svc.running():
        await svc.submit(make_order("a1"))
        await svc.submit(make_order("a2", symbol="ETH-USDT", qty="1", price="2000"))
        await svc.submit(make_order("b1", consumer_id="beta"))

        only_eth = await svc.cancel_all("alpha", symbol="ETH-USDT")
        assert [r.client_order_id for r in only_eth] == ["a2"]
        rest = await svc.cancel_all("alpha", provider="fakex")
        assert [(r.client_order_id, r.ok) for r in rest] == [("a1", True)]
        assert svc.open_orders("alpha") == []
        assert [o.client_order_id for o in svc.open_orders("beta")] == ["b1"]

"""SIGTERM with an order in flight (issue 19): the gateway finishes or resolves the
submission before the journal closes, so journal and venue agree after the stop, and
``submit_order`` answers (never raises) while the gateway stops.

Before the fix the journal kept such an order SENDING while the venue had it live, and a
submission during shutdown raised ``TradegwError('the order journal ... is not open')``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import anyio
import pytest

from tradegw_core.demo.runner import client_settings_for
from tradegw_core.gateway import Gateway, run_gateway
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderRequest, OrderResult, OrderStatus
from tradegw_core.sim.emulator import Emulator
from tradegw_core.sim.faults import AcceptThenTimeout, FaultPlan, Slow
from tradegw_core.sim.orders import OrderState

from .harness import SYMBOL, Recorder, emulators, installed, require, settings_for, with_recorders

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

VENUE = "coinbase"
JOURNAL_STATE = {
    OrderState.NEW: "ACK",
    OrderState.PARTIALLY_FILLED: "PARTIAL",
    OrderState.FILLED: "FILLED",
    OrderState.CANCELED: "CANCELLED",
    OrderState.REJECTED: "REJECTED",
    OrderState.EXPIRED: "EXPIRED",
}


def resting_buy(emu: Emulator, cid: str) -> OrderRequest:
    spec = emu.sim.specs[SYMBOL]
    bid = emu.sim.book(VENUE, SYMBOL, depth=1).bids[0][0]
    return OrderRequest(
        client_order_id=cid, consumer_id="strat", provider=VENUE, symbol=SYMBOL,
        side=Side.BUY, qty=spec.lot * 100, price=bid - spec.tick * 20,
    )  # fmt: skip


def journal_rows(path: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT client_order_id, phase, state FROM orders").fetchall()
    return {cid: (phase, state) for cid, phase, state in rows}


@pytest.mark.parametrize("fault", ["slow_answer", "lost_answer"])
async def test_sigterm_with_an_order_in_flight_journal_and_venue_agree(
    fault: str, tmp_path: Path
) -> None:
    regs = installed()
    require(regs, VENUE, trading=True)
    plan = FaultPlan()
    action = Slow(0.5) if fault == "slow_answer" else AcceptThenTimeout()
    rule = plan.http(action, match=lambda req: req.method == "POST" and "orders" in req.path)
    rec = Recorder("strat")
    journal = tmp_path / "journal.sqlite3"
    results: list[OrderResult] = []
    async with emulators(regs, [VENUE], run_market=False, faults={VENUE: plan}) as emus:
        emu = emus[VENUE]
        settings = settings_for(
            regs, {VENUE: client_settings_for(emu)}, ["strat"], journal,
            gateway={"required_providers": [VENUE]},
            orders={"submit_timeout_s": 1.0},
        )  # fmt: skip
        running: list[Gateway] = []

        async def submit(order: OrderRequest) -> None:
            results.append(await rec.ctx.submit_order(order))

        async with anyio.create_task_group() as tg:
            with anyio.fail_after(20):
                done = anyio.Event()
                code: list[int] = []

                async def run() -> None:
                    code.append(
                        await run_gateway(
                            settings, with_recorders(regs, [rec]), started=running.append
                        )
                    )
                    done.set()

                tg.start_soon(run)
                await rec.until(lambda: bool(running) and rec.ctx is not None)
                tg.start_soon(submit, resting_buy(emu, "inflight-1"))
                await rec.until(lambda: rule.fired == 1)  # the venue has the request
                os.kill(os.getpid(), signal.SIGTERM)
                service = running[0].orders.service
                await rec.until(lambda: service.closing)  # the signal was handled
                # Submitting while the gateway stops answers at once; it never raises.
                late = await rec.ctx.submit_order(resting_buy(emu, "late-1"))
                await done.wait()
    assert code == [0]
    assert late.status is OrderStatus.REJECTED, late
    assert late.retryable
    (inflight,) = results
    assert inflight.status in (OrderStatus.ACCEPTED, OrderStatus.UNKNOWN), inflight
    # Journal and venue agree: the in-flight order is live on the venue and journaled so.
    venue = emu.engines[SYMBOL].order(emu.credentials[0].account, client_order_id="inflight-1")
    assert venue is not None
    rows = journal_rows(journal)
    assert set(rows) == {"inflight-1"}  # the late one never reached the journal or venue
    phase, state = rows["inflight-1"]
    assert phase == "SENT", rows
    assert state == JOURNAL_STATE[venue.state], (rows, venue.state)
    assert emu.engines[SYMBOL].order(emu.credentials[0].account, client_order_id="late-1") is None

"""An order adapter / user stream restart while orders fill, per venue (issue 19).

Resting orders are placed through the gateway; the adapter is restarted and, while it is
down, the venue fills some of them (another account trades through them in the matching
engine, so the fills happen on the venue exactly while the user stream is gone). The
restarted adapter is reconciled by query, so every finished order's final report still
reaches the strategy, exactly once, after its earlier reports. A submission made while the
adapter is down is refused as retryable (nothing sent), never answered UNKNOWN.

Before the fix the reports of orders filled during the restart were lost (the strategy and
the journal kept them ACK), and submissions during the restart came back UNKNOWN.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.gateway import Gateway
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.emulator import Emulator
from tradegw_core.sim.matching import ExecEvent
from tradegw_core.sim.orders import OrderState

from .harness import SYMBOL, VENUES, Recorder, emulators, gateway, installed, require

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(40)]

FINAL = {ExecState.FILLED, ExecState.CANCELLED, ExecState.REJECTED, ExecState.EXPIRED}
VENUE_FINAL = {
    OrderState.FILLED: ExecState.FILLED,
    OrderState.CANCELED: ExecState.CANCELLED,
    OrderState.REJECTED: ExecState.REJECTED,
    OrderState.EXPIRED: ExecState.EXPIRED,
}


class VenueTruth:
    """The last state of each of our orders on the venue, from its matching engine."""

    def __init__(self, emu: Emulator, account: str) -> None:
        self.last: dict[str, ExecEvent] = {}
        self._account = account
        emu.engines[SYMBOL].subscribe(self._on)

    def _on(self, event: ExecEvent) -> None:
        if event.account == self._account:
            self.last[event.client_order_id] = event


def qty_of(emu: Emulator) -> Decimal:
    spec = emu.sim.specs[SYMBOL]
    return max(spec.lot, (spec.min_notional * 2 / spec.price).quantize(spec.lot))


def resting_buy(emu: Emulator, cid: str, ticks: int) -> OrderRequest:
    """A limit buy ``ticks`` ticks above the venue's best bid (1: inside the spread, the
    new best bid; negative: deep in the book). The market does not move by itself here."""
    spec = emu.sim.specs[SYMBOL]
    bid = emu.sim.book(emu.venue, SYMBOL, depth=1).bids[0][0]
    return OrderRequest(
        client_order_id=cid, consumer_id="strat", provider=emu.venue, symbol=SYMBOL,
        side=Side.BUY, qty=qty_of(emu), price=bid + spec.tick * ticks,
    )  # fmt: skip


def trade_through(emu: Emulator, orders: list[OrderRequest], n: int) -> None:
    """Another account sells exactly into our resting buys (the best bids), filling them."""
    emu.ledger.deposit("other", emu.sim.specs[SYMBOL].base, Decimal(1000))
    price = min(o.price for o in orders if o.price is not None)
    emu.engines[SYMBOL].place("other", f"x-{n}", Side.SELL, sum(o.qty for o in orders), price)


def check_reports(rec: Recorder, truth: VenueTruth, placed: list[str]) -> None:
    """Every finished order: one final report, last, with the venue's state and quantity."""
    for cid in placed:
        reports = [r for r in rec.reports if r.client_order_id == cid]
        states = [r.state for r in reports]
        finals = [s for s in states if s in FINAL]
        assert len(finals) == 1, (cid, states)
        assert states[-1] in FINAL, (cid, states)
        cums = [r.cum_qty for r in reports]
        assert cums == sorted(cums), (cid, cums)  # in order: never backwards
        venue = truth.last[cid]
        assert VENUE_FINAL[venue.state] is states[-1], (cid, venue.state, states)
        assert reports[-1].cum_qty == venue.cum_qty, cid


async def restart_and_fill(gw: Gateway, emu: Emulator, rec: Recorder, batch: list[Any]) -> str:
    """Restart the adapter, fill ``batch`` on the venue meanwhile, submit during the gap."""
    sup = gw.orders.supervisors[emu.venue]
    assert sup.restart("test: user stream restart")
    trade_through(emu, batch, len(rec.reports))  # fills while the user stream is down
    during = await rec.ctx.submit_order(resting_buy(emu, f"rd{len(rec.reports):04d}", -40))
    assert during.status is not OrderStatus.UNKNOWN, during
    if during.status is OrderStatus.REJECTED:
        assert during.retryable, during
    with anyio.fail_after(5):
        await gw.orders.wait_ready(emu.venue)
    return during.client_order_id if during.status is OrderStatus.ACCEPTED else ""


@pytest.mark.parametrize("venue", VENUES)
async def test_adapter_restart_while_orders_fill_loses_no_final_report(
    venue: str, tmp_path: Path
) -> None:
    regs = installed()
    require(regs, venue, trading=True)
    rec = Recorder("strat")
    async with (
        emulators(regs, [venue], run_market=False) as emus,
        gateway(
            regs, emus, [rec], tmp_path / "journal.sqlite3",
            gateway={"required_providers": [venue]},
        ) as gw,
    ):  # fmt: skip
        emu = emus[venue]
        truth = VenueTruth(emu, emu.credentials[0].account)
        placed: list[str] = []
        for rnd in range(3):
            batch = [resting_buy(emu, f"r{rnd}{i:03d}", 1) for i in range(4)]
            for order in batch:
                result = await rec.ctx.submit_order(order)
                assert result.status is OrderStatus.ACCEPTED, result
                placed.append(order.client_order_id)
            await rec.until(lambda: all(rec.states(c) for c in placed))
            extra = await restart_and_fill(gw, emu, rec, batch)
            if extra:
                placed.append(extra)
            filled = [o.client_order_id for o in batch]
            await rec.until(lambda f=filled: all(rec.states(c)[-1] == "FILLED" for c in f))
        assert gw.orders.supervisors[venue].restarts == 3
        # Cancel what still rests; every order ends final, reported once, as on the venue.
        await rec.ctx.cancel_all()
        await rec.until(lambda: all(truth.last[c].state in VENUE_FINAL for c in placed))
        await rec.until(lambda: all(rec.states(c) and rec.states(c)[-1] in FINAL for c in placed))
        check_reports(rec, truth, placed)

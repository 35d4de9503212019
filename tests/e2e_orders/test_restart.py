"""Restart through the real Gateway: dedup survives on the journal, open orders are reconciled.

Gateway #1 sends three resting orders to the Coinbase emulator and is stopped. While it is
down, the venue fills one and cancels another; the third stays open. Gateway #2 starts on
the same journal file against the same (still running) emulator: the consumer hears each
order's true state before it trades again, and resubmitting an id is DUPLICATE with nothing
sent.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradegw_core.gateway import Gateway
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import CancelRequest, OrderStatus

from .harness import (
    SYMBOL,
    RecordingConsumer,
    VenuePlacements,
    coinbase_emulator,
    gateway_config,
    order_service,
    resting_buy,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]

NAME = "strategy"


async def test_restart_keeps_dedup_and_reconciles_open_orders(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    async with coinbase_emulator() as emu:
        placed = VenuePlacements(emu)
        fill_me = resting_buy(emu, NAME, "rs-fill-0001", ticks=1)
        cancel_me = resting_buy(emu, NAME, "rs-cncl-0001", ticks=-6)
        keep_me = resting_buy(emu, NAME, "rs-keep-0001", ticks=-7)

        first = RecordingConsumer(NAME)
        loaded = gateway_config(emu, journal, {NAME: first})
        async with Gateway(loaded.settings, loaded.registries):
            for order in (fill_me, cancel_me, keep_me):
                result = await first.ctx.submit_order(order)
                assert result.status is OrderStatus.ACCEPTED, result
            await first.until(
                lambda: all(
                    first.states(o.client_order_id) == [ExecState.ACK]
                    for o in (fill_me, cancel_me, keep_me)
                )
            )
        assert first.stopped
        assert emu.desk.creates == 3

        # The gateway is down: the venue fills one order and cancels another.
        account = emu.credentials[0].account
        engine = emu.engines[SYMBOL]
        emu.ledger.deposit("other", "BTC", Decimal(1))
        assert fill_me.price is not None
        engine.place("other", "counterparty-1", Side.SELL, fill_me.qty, fill_me.price)
        canceled = engine.cancel(account, client_order_id=cancel_me.client_order_id)
        assert canceled.state.value == "canceled"

        second = RecordingConsumer(NAME)
        loaded = gateway_config(emu, journal, {NAME: second})
        async with Gateway(loaded.settings, loaded.registries) as gw:
            # Reconciliation ran before the consumer started: its first reports are the
            # venue's answers about the orders left open, with the final states.
            await second.until(lambda: len(second.reports) >= 3)
            assert len(second.reports) == 3  # one answer per order, no repeats
            by_id = {r.client_order_id: r for r in second.reports}
            assert by_id[fill_me.client_order_id].state is ExecState.FILLED
            assert by_id[fill_me.client_order_id].cum_qty == fill_me.qty
            assert by_id[cancel_me.client_order_id].state is ExecState.CANCELLED
            assert by_id[keep_me.client_order_id].state is ExecState.ACK
            assert all(r.consumer_id == NAME for r in second.reports)

            open_ids = [o.client_order_id for o in order_service(gw).open_orders(NAME)]
            assert open_ids == [keep_me.client_order_id]

            again = await second.ctx.submit_order(fill_me)
            assert again.status is OrderStatus.DUPLICATE, again
            assert again.first is not None
            assert again.first.status is OrderStatus.ACCEPTED
            assert again.state is ExecState.FILLED
            again = await second.ctx.submit_order(keep_me)
            assert again.status is OrderStatus.DUPLICATE, again
            assert again.state is ExecState.ACK

            # The restarted gateway's user stream is live: a cancel of the order that
            # survived the restart is reported back (Coinbase reports it on that stream).
            cancel = await second.ctx.cancel_order(
                CancelRequest(
                    client_order_id=keep_me.client_order_id,
                    consumer_id=NAME,
                    provider=keep_me.provider,
                    symbol=SYMBOL,
                )
            )
            assert cancel.ok, cancel
            await second.until(
                lambda: ExecState.CANCELLED in second.states(keep_me.client_order_id)
            )
            assert order_service(gw).open_orders(NAME) == []

        assert emu.desk.creates == 3  # nothing was sent again
        assert placed.placed == {
            fill_me.client_order_id: 1,
            cancel_me.client_order_id: 1,
            keep_me.client_order_id: 1,
            "counterparty-1": 1,
        }
        placed.close()

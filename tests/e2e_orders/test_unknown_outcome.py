"""Exactly once under a fault: the venue takes the order but its HTTP answer never comes.

The Coinbase emulator's fault plan holds the answer to ``POST /orders`` after the order was
placed (``AcceptThenTimeout``). The adapter gives up after its request timeout; the
submission is UNKNOWN, and the gateway finds the order by *querying* the venue, never by
sending it again. With the order's user-stream frames also dropped, the query is the only
way the gateway can learn the order's state; without that fault the user stream and the
query race (when the stream reported the order before the answer was given up, the
submission is ACCEPTED with the stream's state), and either way the consumer ends up with
the true state.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tradegw_core.gateway import Gateway
from tradegw_core.schema.events import ExecState, Side
from tradegw_core.schema.orders import OrderRequest, OrderStatus
from tradegw_core.sim.faults import AcceptThenTimeout, Drop
from tradegw_core.sim.http import HttpRequest

from .harness import (
    PROVIDER,
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


def _is_create(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path.endswith("/brokerage/orders")


def _mentions(text: str) -> Callable[[object, str | bytes], bool]:
    def match(conn: object, frame: str | bytes) -> bool:
        return text in (frame.decode() if isinstance(frame, bytes) else frame)

    return match


@pytest.mark.parametrize("user_stream", ["dropped", "live"])
@pytest.mark.parametrize("outcome", ["filled", "resting"])
async def test_answer_lost_after_the_venue_accepted(
    tmp_path: Path, user_stream: str, outcome: str
) -> None:
    async with coinbase_emulator() as emu:
        placed = VenuePlacements(emu)
        if outcome == "filled":  # crosses the best ask and fills there at once
            price, qty = emu.sim.book(PROVIDER, SYMBOL, depth=1).asks[0]
            order = OrderRequest(
                client_order_id="ut-0001", consumer_id=NAME, provider=PROVIDER, symbol=SYMBOL,
                side=Side.BUY, qty=min(qty, Decimal("0.01")), price=price,
            )  # fmt: skip
            final = ExecState.FILLED
        else:
            order = resting_buy(emu, NAME, "ut-0001", ticks=-3)
            final = ExecState.ACK
        hold = emu.faults.http(AcceptThenTimeout(), match=_is_create, count=1)
        if user_stream == "dropped":
            emu.faults.ws(Drop(), match=_mentions(order.client_order_id), count=None)

        consumer = RecordingConsumer(NAME)
        loaded = gateway_config(
            emu,
            tmp_path / "journal.sqlite3",
            {NAME: consumer},
            provider={"request_timeout_s": 0.5},
        )
        async with Gateway(loaded.settings, loaded.registries) as gw:
            result = await consumer.ctx.submit_order(order)
            assert hold.fired == 1
            if user_stream == "dropped":
                assert result.status is OrderStatus.UNKNOWN, result
                assert result.reason == "outcome_unknown"
            else:  # the user stream told the gateway before the answer was given up
                assert result.status in (OrderStatus.UNKNOWN, OrderStatus.ACCEPTED), result

            await consumer.until(lambda: final in consumer.states(order.client_order_id))
            reports = [r for r in consumer.reports if r.client_order_id == order.client_order_id]
            if user_stream == "dropped":
                # Only the query could tell: one report, the venue's current state.
                assert [r.state for r in reports] == [final]
            last = reports[-1]
            assert last.consumer_id == NAME
            assert last.venue_order_id
            assert last.cum_qty == (order.qty if final is ExecState.FILLED else 0)

            # The gateway knows it now: a retry by the consumer is a duplicate, not a resend.
            again = await consumer.ctx.submit_order(order)
            assert again.status is OrderStatus.DUPLICATE, again
            assert again.state is final
            open_ids = [o.client_order_id for o in order_service(gw).open_orders(NAME)]
            assert open_ids == ([] if final is ExecState.FILLED else [order.client_order_id])

        assert emu.desk.creates == 1  # one POST /orders: nothing was resent
        assert placed.placed == {order.client_order_id: 1}  # exactly one order on the venue
        engine_order = emu.engines[SYMBOL].order(
            emu.credentials[0].account, client_order_id=order.client_order_id
        )
        assert engine_order is not None
        assert engine_order.state.value == ("filled" if final is ExecState.FILLED else "new")
        placed.close()

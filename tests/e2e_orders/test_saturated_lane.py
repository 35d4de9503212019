"""Execution reports are lossless even when the consumer's market-data lane is saturated.

A real Gateway on the Coinbase emulator, with a tiny market-data lane (``lane_size = 4``,
a trade backlog of 1, overflow to the dead-letter queue). The consumer subscribes to BTC-USD
book and trades and stops draining: its first market-data callback blocks until the test
releases it. The emulator's market is stepped until the gateway reports the lane's
overflow. The consumer's order (a real one, acknowledged by the venue) then gets 10,000
fills, handed to the order path where the venue adapter hands its user-stream reports
(``OrderService.emitter``):
tracker -> SQLite journal -> ``Dispatcher.deliver_exec`` -> the lane -> the consumer task.
All 10,001 reports (ACK, 9,999 PARTIAL, FILLED) must arrive, in order, none dropped, while
trades are being dead-lettered (and book updates merged).

(The fills are injected at the adapter's hand-off rather than matched on the emulator:
10,000 matched fills take the emulator itself several seconds to produce.)
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.gateway import Gateway
from tradegw_core.schema.events import (
    Event,
    EventType,
    ExecReport,
    ExecState,
    make_event_id,
)
from tradegw_core.schema.orders import OrderRequest, OrderStatus

from .harness import (
    PROVIDER,
    SYMBOL,
    RecordingConsumer,
    coinbase_emulator,
    gateway_config,
    order_service,
    resting_buy,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

NAME = "slow-reader"
FILLS = 10_000
LANE_SIZE = 4
COID = "sat-0001"


class BlockedReader(RecordingConsumer):
    """Subscribes to market data, then does not drain its lane until released."""

    def __init__(self) -> None:
        super().__init__(NAME)
        self.blocked = anyio.Event()
        self.release = anyio.Event()
        self.ack: Any = None

    async def on_start(self, ctx: Any) -> None:
        """Subscribe to the market of the order."""
        await super().on_start(ctx)
        self.ack = await ctx.subscribe(
            [PROVIDER],
            [SYMBOL],
            [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE, EventType.TRADE],
        )

    async def on_event(self, event: Event) -> None:
        """The first market-data event blocks the consumer until the test releases it."""
        self.blocked.set()
        await self.release.wait()
        await super().on_event(event)


async def _watch_overflow(telemetry: TelemetryBus, overflowed: anyio.Event) -> None:
    async with telemetry.subscribe("e2e-overflow-watch") as sub:
        async for event in sub:
            if event.name == "backpressure.triggered" and event.labels.get("consumer") == NAME:
                overflowed.set()
                return


def _fill(order: OrderRequest, venue_order_id: str, n: int, lot: Decimal) -> ExecReport:
    """The venue's report of the ``n``-th one-``lot`` fill of ``order``."""
    cum = lot * n
    assert order.price is not None
    return ExecReport(
        event_id=make_event_id(PROVIDER, SYMBOL, EventType.EXEC_REPORT, f"{COID}:{n}"),
        provider=PROVIDER,
        symbol=SYMBOL,
        venue_symbol=SYMBOL,
        client_order_id=COID,
        venue_order_id=venue_order_id,
        state=ExecState.FILLED if cum == order.qty else ExecState.PARTIAL,
        side=order.side,
        order_qty=order.qty,
        price=order.price,
        last_qty=lot,
        last_price=order.price,
        cum_qty=cum,
        leaves_qty=order.qty - cum,
        avg_price=order.price,
        venue_status="FILLED" if cum == order.qty else "OPEN",
    )


async def test_10000_exec_reports_arrive_in_order_through_a_saturated_lane(
    tmp_path: Path,
) -> None:
    async with coinbase_emulator(ws_buffer=100_000) as emu:
        consumer = BlockedReader()
        loaded = gateway_config(
            emu,
            tmp_path / "journal.sqlite3",
            {NAME: consumer},
            dispatcher={"lane_size": LANE_SIZE, "backlog_size": 1, "overflow": "dlq"},
        )
        gw = Gateway(loaded.settings, loaded.registries)
        lane = gw.dispatcher.lane(NAME)
        overflowed = anyio.Event()
        async with gw, anyio.create_task_group() as tg:
            tg.start_soon(_watch_overflow, gw.telemetry, overflowed)
            with anyio.fail_after(4):
                await consumer.blocked.wait()  # holding its first market-data event
            assert consumer.ack.ok, consumer.ack.error

            # Far below the market (which is about to move): nothing on the venue fills it.
            lot = emu.sim.specs[SYMBOL].lot * 10
            order = resting_buy(emu, NAME, COID, ticks=-5000).model_copy(
                update={"qty": lot * FILLS}
            )
            result = await consumer.ctx.submit_order(order)
            assert result.status is OrderStatus.ACCEPTED, result
            assert result.venue_order_id

            # Flood the market-data lane from the venue until the gateway reports overflow.
            for _ in range(300):
                emu.sim.step()
            with anyio.fail_after(4):
                await overflowed.wait()
            assert lane.depth == LANE_SIZE

            # 10,000 fills, as the adapter's user stream hands them over, all at once.
            emit = order_service(gw).emitter(PROVIDER)
            for n in range(1, FILLS + 1):
                emit(_fill(order, result.venue_order_id, n, lot))
            with anyio.fail_after(4):
                await order_service(gw).pipeline.wait_flushed()
            # Journaled and queued on the lossless lane; the market-data lane is still full.
            assert lane.exec_depth == FILLS + 1  # + the ACK
            assert lane.depth == LANE_SIZE
            dead_lettered = lane.stats.dead_lettered
            assert dead_lettered > 0

            consumer.release.set()
            await consumer.until(lambda: ExecState.FILLED in consumer.states(COID))
            tg.cancel_scope.cancel()

        reports = [r for r in consumer.reports if r.client_order_id == COID]
        assert len(reports) == FILLS + 1
        assert [r.state for r in reports] == (
            [ExecState.ACK] + [ExecState.PARTIAL] * (FILLS - 1) + [ExecState.FILLED]
        )
        assert [r.cum_qty for r in reports] == [lot * n for n in range(FILLS + 1)]
        assert all(r.consumer_id == NAME for r in reports)
        assert lane.stats.exec_delivered == FILLS + 1
        assert lane.stats.exec_over_capacity == 1  # beyond exec_size, still not dropped
        assert gw.dispatcher.dlq.total >= dead_lettered
        venue = emu.engines[SYMBOL].order("main", client_order_id=COID)
        assert venue is not None
        assert venue.cum_qty == 0

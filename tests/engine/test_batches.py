"""The consumer task hands market data over in batches: ``on_events`` or ``on_event`` per
event, exec reports first, errors counted without stopping the consumer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from tradegw_core.bus.control import ControlBus
from tradegw_core.bus.data import Lane
from tradegw_core.clock import FakeClock
from tradegw_core.consumer import Consumer
from tradegw_core.consumer.context import ConsumerContext
from tradegw_core.consumer.runner import ConsumerStats, run_consumer
from tradegw_core.schema.events import Event, ExecReport
from tradegw_core.testing.recorders import TelemetryRecorder

from .conftest import exec_report, trade


class Batches(Consumer):
    """Records each batch it is given."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int | None]] = []
        self.reports: list[str] = []
        self.fail_on = fail_on

    async def on_events(self, events: Sequence[Event]) -> None:
        self.batches.append([e.seq_provider for e in events])
        if self.fail_on is not None and events[0].seq_provider == self.fail_on:
            raise ValueError("bad batch")

    async def on_exec_report(self, report: ExecReport) -> None:
        self.reports.append(report.client_order_id)


class PerEvent(Consumer):
    """Only ``on_event``: the base class's batch default applies."""

    def __init__(self) -> None:
        self.seen: list[int | None] = []

    async def on_event(self, event: Event) -> None:
        self.seen.append(event.seq_provider)
        if event.seq_provider == 2:
            raise ValueError("bad event")


async def run(consumer: Any, lane: Lane, stats: ConsumerStats, batch: int) -> TelemetryRecorder:
    telemetry = TelemetryRecorder()
    ctx = ConsumerContext("c1", control=ControlBus(), clock=FakeClock())
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            await tg.start(
                lambda task_status: run_consumer(
                    consumer,
                    ctx,
                    lane,
                    telemetry=telemetry,
                    stats=stats,
                    batch=batch,
                    task_status=task_status,
                )
            )
            lane.close()
    return telemetry


@pytest.mark.anyio
async def test_on_events_gets_whole_batches_after_the_exec_reports() -> None:
    lane = Lane("c1", size=100)
    for seq in range(1, 8):
        lane.put_nowait(trade(seq))
    lane.put_exec_nowait(exec_report(1, consumer="c1"))
    consumer, stats = Batches(fail_on=4), ConsumerStats()
    telemetry = await run(consumer, lane, stats, batch=3)
    assert consumer.reports == ["o1"]  # exec reports go first
    assert consumer.batches == [[1, 2, 3], [4, 5, 6], [7]]
    assert (stats.events, stats.batches, stats.errors) == (7, 3, 1)
    # The failing batch is counted; the batches after it still arrive.
    assert len(telemetry.named("consumer.error")) == 1


@pytest.mark.anyio
async def test_without_on_events_each_event_gets_on_event_and_errors_stay_per_event() -> None:
    lane = Lane("c1", size=100)
    for seq in range(1, 5):
        lane.put_nowait(trade(seq))
    consumer, stats = PerEvent(), ConsumerStats()
    telemetry = await run(consumer, lane, stats, batch=256)
    assert consumer.seen == [1, 2, 3, 4]  # the event after the failing one still arrives
    assert (stats.events, stats.batches, stats.errors) == (4, 1, 1)
    assert len(telemetry.named("consumer.error")) == 1


@pytest.mark.anyio
async def test_the_base_class_default_on_events_calls_on_event_in_order() -> None:
    consumer = PerEvent()
    await consumer.on_events([trade(1), trade(3)])
    assert consumer.seen == [1, 3]

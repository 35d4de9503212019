"""The consumer's task: the lane is its only input (design section 2).

It awaits one item, then drains what is queued without awaiting the lane again; exec
reports come before market data whenever both are queued. A callback that raises is
logged and counted (telemetry ``consumer.error``) and the consumer goes on: one bad event
never stops a strategy. ``on_stop`` always runs once, shielded and time-bounded.
"""

from __future__ import annotations

import anyio
from anyio.abc import TaskStatus

from tradegw_core.bus.data import Lane
from tradegw_core.consumer.context import ConsumerContext
from tradegw_core.contracts import Consumer, Telemetry
from tradegw_core.schema.events import ExecReport

__all__ = ["ConsumerStats", "run_consumer"]


class ConsumerStats:
    """Counters of one consumer task."""

    __slots__ = ("errors", "events", "exec_reports")

    def __init__(self) -> None:
        self.events = 0
        self.exec_reports = 0
        self.errors = 0


async def run_consumer(
    consumer: Consumer,
    ctx: ConsumerContext,
    lane: Lane,
    *,
    telemetry: Telemetry,
    stats: ConsumerStats | None = None,
    stop_timeout: float = 5.0,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Start ``consumer`` and feed it from ``lane`` until the lane is closed and drained."""
    counters = stats if stats is not None else ConsumerStats()
    pop = lane.pop_nowait
    try:
        await consumer.on_start(ctx)
        task_status.started()
        while True:
            item = pop()
            if item is None:
                if lane.closed:
                    return
                await lane.wait()
                continue
            ctx.trace_id = item.trace_id
            try:
                if isinstance(item, ExecReport):
                    counters.exec_reports += 1
                    await consumer.on_exec_report(item)
                else:
                    counters.events += 1
                    await consumer.on_event(item)
            except Exception as exc:
                counters.errors += 1
                telemetry.emit(
                    "consumer.error",
                    consumer=ctx.consumer_id,
                    error=f"{type(exc).__name__}: {exc}",
                )
                ctx.log.exception("consumer callback failed on %s", type(item).__name__)
    finally:
        with anyio.move_on_after(stop_timeout, shield=True):
            try:
                await consumer.on_stop()
            except Exception:
                ctx.log.exception("consumer on_stop failed")

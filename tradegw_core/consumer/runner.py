"""The consumer's task: the lane is its only input (design section 2).

It awaits the lane once, then takes what is queued without awaiting it again: exec reports
first, one by one, then market data in batches of up to ``batch`` events. A consumer that
defines ``on_events(events)`` gets each batch in one call (one coroutine per batch, not
per event); otherwise the task calls ``on_event`` for each event of the batch. After a full
batch the task yields once, so consumers, the connection readers and the control path
take turns (round-robin service: a busy consumer never holds the loop for long).

A callback that raises is logged and counted (telemetry ``consumer.error``) and the
consumer goes on: one bad event never stops a strategy (when ``on_events`` raises, the rest
of that batch is lost for this consumer; that is counted the same way). ``on_stop``
always runs once, shielded and time-bounded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus

from tradegw_core.bus.data import Lane
from tradegw_core.consumer.base import Consumer as BaseConsumer
from tradegw_core.consumer.context import ConsumerContext
from tradegw_core.contracts import Consumer, Telemetry
from tradegw_core.schema.events import Event

__all__ = ["DEFAULT_BATCH", "ConsumerStats", "batch_hook", "run_consumer"]

DEFAULT_BATCH = 256
"""Market-data events handed over per turn of a consumer's task."""


class ConsumerStats:
    """Counters of one consumer task."""

    __slots__ = ("batches", "errors", "events", "exec_reports")

    def __init__(self) -> None:
        self.events = 0
        self.batches = 0
        self.exec_reports = 0
        self.errors = 0


def batch_hook(consumer: Consumer) -> Callable[[Sequence[Event]], Awaitable[None]] | None:
    """``consumer.on_events`` when it defines its own (the base class's default is not)."""
    hook: Any = getattr(consumer, "on_events", None)
    if hook is None or getattr(type(consumer), "on_events", None) is BaseConsumer.on_events:
        return None
    return hook  # type: ignore[no-any-return]


async def run_consumer(
    consumer: Consumer,
    ctx: ConsumerContext,
    lane: Lane,
    *,
    telemetry: Telemetry,
    stats: ConsumerStats | None = None,
    stop_timeout: float = 5.0,
    batch: int = DEFAULT_BATCH,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Start ``consumer`` and feed it from ``lane`` until the lane is closed and drained."""
    counters = stats if stats is not None else ConsumerStats()

    def failed(exc: Exception, what: str) -> None:
        counters.errors += 1
        telemetry.emit(
            "consumer.error", consumer=ctx.consumer_id, error=f"{type(exc).__name__}: {exc}"
        )
        ctx.log.exception("consumer callback failed on %s", what)

    on_events = batch_hook(consumer)
    pop_exec = lane.pop_exec_nowait
    take = lane.take
    try:
        await consumer.on_start(ctx)
        task_status.started()
        while True:
            while (report := pop_exec()) is not None:
                ctx.trace_id = report.trace_id
                counters.exec_reports += 1
                try:
                    await consumer.on_exec_report(report)
                except Exception as exc:
                    failed(exc, "ExecReport")
            events = take(batch)
            if not events:
                if lane.closed and not lane.exec_depth:
                    return
                await lane.wait()
                continue
            counters.batches += 1
            counters.events += len(events)
            if on_events is not None:
                ctx.trace_id = events[-1].trace_id
                try:
                    await on_events(events)
                except Exception as exc:
                    failed(exc, "a batch")
            else:
                on_event = consumer.on_event
                for event in events:
                    ctx.trace_id = event.trace_id
                    try:
                        await on_event(event)
                    except Exception as exc:
                        failed(exc, type(event).__name__)
            if len(events) == batch:
                await anyio.lowlevel.checkpoint()  # a full batch: let the others have a turn
    finally:
        with anyio.move_on_after(stop_timeout, shield=True):
            try:
                await consumer.on_stop()
            except Exception:
                ctx.log.exception("consumer on_stop failed")

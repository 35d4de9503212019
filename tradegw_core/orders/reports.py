"""The report pipeline: journal each accepted ExecReport, then deliver it to its consumer.

The tracker hands reports over synchronously (``put_nowait``) into a FIFO that never refuses:
an adapter's user stream has already recorded the report in its own tracker, so a refused
report could vanish (a FILLED never re-emitted after a reconnect). ``capacity``
(``OrderPathSettings.report_buffer``) is the backlog's *watch line*, not a wall; overflow
policy: *queue and count*, like the dispatcher's ``deliver_exec``: each report queued beyond
it counts in ``tradegw_orders_report_over_capacity`` and :attr:`ReportPipeline.over_capacity`,
and ``order.report_backlog`` telemetry is emitted at most once per ``alert_interval_s``.
The adapters' own bounded connections are what bound the backlog in the end. One task owns
the receiving end: it takes what is queued (up to ``batch_max`` at a time), journals the
batch in one transaction off the event loop, and only then calls
``deliver(consumer_id, report)`` for each, in arrival order. ``deliver`` is the dispatcher's
lossless lane: it never drops. A journal write that fails stops the order service: nothing
is acted on unjournaled.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import anyio
from anyio.abc import TaskStatus

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.journal import OrderJournal, ReportRow
from tradegw_core.orders.metrics import OrderMetrics
from tradegw_core.schema.events import ExecReport, encode_event

__all__ = ["DeliverFn", "ReportPipeline"]

DeliverFn = Callable[[str, ExecReport], None]
"""``deliver(consumer_id, report)``: the dispatcher's lossless execution-report lane."""


class ReportPipeline:
    """Lossless hand-off from the tracker to the journal and then the consumer."""

    def __init__(
        self,
        journal: OrderJournal,
        deliver: DeliverFn,
        *,
        clock: Clock,
        telemetry: Telemetry,
        log: logging.Logger,
        capacity: int = 65_536,
        batch_max: int = 1024,
        metrics: OrderMetrics | None = None,
        alert_interval_s: float = 1.0,
    ) -> None:
        self._journal = journal
        self._deliver = deliver
        self._clock = clock
        self._telemetry = telemetry
        self._log = log
        self._batch_max = batch_max
        self._capacity = capacity
        self._metrics = metrics
        self._alert_interval_ns = int(alert_interval_s * 1e9)
        self._next_alert_ns: int | None = None
        self._queue: deque[ExecReport] = deque()
        self._wake = anyio.Event()
        self.delivered = 0
        self.over_capacity = 0
        """Reports queued while the backlog was at or beyond ``capacity`` (none dropped)."""
        self._queued = 0
        self._handled = 0
        self._progress = anyio.Event()

    def put_nowait(self, report: ExecReport) -> None:
        """Queue an accepted report; never refuses (beyond ``capacity`` it is counted)."""
        if len(self._queue) >= self._capacity:
            self._over(report)
        self._queue.append(report)
        self._queued += 1
        self._wake.set()

    def _over(self, report: ExecReport) -> None:
        self.over_capacity += 1
        if self._metrics is not None:
            self._metrics.report_over_capacity.labels(report.provider).inc()
        now = self._clock.monotonic_ns()
        if self._next_alert_ns is None or now >= self._next_alert_ns:
            self._next_alert_ns = now + self._alert_interval_ns
            self._telemetry.emit(
                "order.report_backlog",
                provider=report.provider,
                pending=len(self._queue),
                capacity=self._capacity,
                over_capacity=self.over_capacity,
            )

    async def wait_flushed(self) -> None:
        """Wait until every report queued so far was journaled and handed to its consumer."""
        target = self._queued
        while self._handled < target:
            await self._progress.wait()

    @property
    def pending(self) -> int:
        """Reports queued and not yet journaled."""
        return len(self._queue)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Journal and deliver until cancelled; on the way out, flush what is queued."""
        task_status.started()
        try:
            while True:
                if not self._queue:
                    self._wake = anyio.Event()
                    await self._wake.wait()
                    continue
                batch = self._take(self._batch_max)
                # Shielded: a batch taken off the queue is journaled AND delivered.
                with anyio.CancelScope(shield=True):
                    await self._flush(batch)
        finally:
            with anyio.CancelScope(shield=True):
                while self._queue:
                    await self._flush(self._take(self._batch_max))

    def _take(self, limit: int) -> list[ExecReport]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]

    async def _flush(self, batch: list[ExecReport]) -> None:
        rows = [
            ReportRow(
                provider=r.provider,
                client_order_id=r.client_order_id,
                consumer_id=r.consumer_id,
                state=str(r.state),
                cum_qty=r.cum_qty,
                venue_order_id=r.venue_order_id,
                payload=encode_event(r).decode(),
            )
            for r in batch
        ]
        await self._journal.record_reports(rows, self._clock.time_ns())
        for report in batch:
            try:
                self._deliver(report.consumer_id, report)
            except Exception as exc:
                # The lane is lossless by contract; a raising sink is a wiring bug, so it is
                # shouted about, and the next reports still go out.
                self._telemetry.emit(
                    "exec_report.undeliverable",
                    consumer_id=report.consumer_id,
                    client_order_id=report.client_order_id,
                    error=repr(exc),
                )
                self._log.error(
                    "cannot deliver an exec report to %s: %r",
                    report.consumer_id,
                    exc,
                    extra={"trace_id": report.trace_id, "decision_id": report.decision_id},
                )
            else:
                self.delivered += 1
        self._handled += len(batch)
        self._progress.set()
        self._progress = anyio.Event()

"""The report pipeline: journal each accepted ExecReport, then deliver it to its consumer.

The tracker hands reports over synchronously (``put_nowait``) into a bounded memory stream
(``capacity`` = ``OrderPathSettings.report_buffer``; overflow policy: *refuse*, the tracker
checks :meth:`ReportPipeline.has_room` first and raises ``ExecReportBacklogError`` into the
adapter's reader, which reconnects and re-queries, so nothing is lost). One task owns the
receiving end: it takes what is queued (up to ``batch_max`` at a time), journals the batch in
one transaction off the event loop, and only then calls ``deliver(consumer_id, report)`` for
each, in arrival order. ``deliver`` is the dispatcher's lossless lane: it never drops.
A journal write that fails stops the order service: nothing is acted on unjournaled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradegw_core.clock import Clock
from tradegw_core.contracts import Telemetry
from tradegw_core.journal import OrderJournal, ReportRow
from tradegw_core.schema.events import ExecReport, encode_event

__all__ = ["DeliverFn", "ReportPipeline"]

DeliverFn = Callable[[str, ExecReport], None]
"""``deliver(consumer_id, report)``: the dispatcher's lossless execution-report lane."""


class ReportPipeline:
    """Bounded hand-off from the tracker to the journal and then the consumer."""

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
    ) -> None:
        self._journal = journal
        self._deliver = deliver
        self._clock = clock
        self._telemetry = telemetry
        self._log = log
        self._batch_max = batch_max
        self._capacity = capacity
        self._send: MemoryObjectSendStream[ExecReport] | None = None
        self.delivered = 0
        self._queued = 0
        self._handled = 0
        self._progress = anyio.Event()

    def has_room(self) -> bool:
        """False when the buffer is full (or the pipeline is not running)."""
        return self._send is not None and self.pending < self._capacity

    def put_nowait(self, report: ExecReport) -> None:
        """Queue an accepted report (the caller checked :meth:`has_room`)."""
        if self._send is None:
            raise RuntimeError("the report pipeline is not running")
        self._send.send_nowait(report)
        self._queued += 1

    async def wait_flushed(self) -> None:
        """Wait until every report queued so far was journaled and handed to its consumer."""
        target = self._queued
        while self._handled < target:
            await self._progress.wait()

    @property
    def pending(self) -> int:
        """Reports queued and not yet journaled."""
        return 0 if self._send is None else self._send.statistics().current_buffer_used

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Journal and deliver until cancelled; on the way out, flush what is queued."""
        send, receive = anyio.create_memory_object_stream[ExecReport](self._capacity)
        with send, receive:
            self._send = send
            task_status.started()
            try:
                while True:
                    first = await receive.receive()
                    batch = self._drain(receive, [first], self._batch_max)
                    # Shielded: a batch taken off the stream is journaled AND delivered.
                    with anyio.CancelScope(shield=True):
                        await self._flush(batch)
            finally:
                self._send = None
                with anyio.CancelScope(shield=True):
                    rest = self._drain(receive, [], self._capacity)
                    if rest:
                        await self._flush(rest)

    @staticmethod
    def _drain(
        receive: MemoryObjectReceiveStream[ExecReport], batch: list[ExecReport], limit: int
    ) -> list[ExecReport]:
        while len(batch) < limit:
            try:
                batch.append(receive.receive_nowait())
            except anyio.WouldBlock:
                break
        return batch

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

"""The async face of the order journal: SQLite work runs off the event loop.

Threading model: every call goes through ``anyio.to_thread.run_sync`` with a
``CapacityLimiter(1)`` owned by the journal, so exactly one worker thread touches the one
connection at a time (the connection is opened with ``check_same_thread=False`` for that
reason; calls never overlap). Waiting callers queue on the limiter: the queue is bounded by
the number of tasks that can be on the order path at once and its overflow policy is
*backpressure* (a caller waits for its write to finish before it acts). A call is never
abandoned half-way when its caller is cancelled: anyio waits for the thread to finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from tradegw_core.journal.store import (
    JournalRecord,
    JournalStore,
    LogEntry,
    OrderPhase,
    ReportRow,
)

__all__ = ["OrderJournal"]

P = ParamSpec("P")
R = TypeVar("R")


class OrderJournal:
    """Async context manager around :class:`JournalStore`; enter and exit in one task."""

    def __init__(self, path: Path | str) -> None:
        self.store = JournalStore(Path(path))
        self._limiter = anyio.CapacityLimiter(1)

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        def job() -> R:
            return fn(*args, **kwargs)

        return await anyio.to_thread.run_sync(job, limiter=self._limiter)

    async def __aenter__(self) -> OrderJournal:
        await self._call(self.store.open)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._call(self.store.close)

    def gone(self) -> str | None:
        """Why the journal file in use was deleted or replaced, or None (a cheap stat)."""
        return self.store.gone()

    async def load(self) -> list[JournalRecord]:
        """Every order the journal holds (start-up)."""
        return await self._call(self.store.load)

    async def insert_order(self, rec: JournalRecord) -> None:
        """Journal a new order before it is sent."""
        await self._call(self.store.insert_order, rec)

    async def set_phase(
        self,
        provider: str,
        client_order_id: str,
        phase: OrderPhase,
        ts_ns: int,
        *,
        result: str | None = None,
        venue_order_id: str | None = None,
        note: str = "",
    ) -> None:
        """Journal a phase change (and the first result) before it is acted on."""
        await self._call(
            self.store.set_phase,
            provider,
            client_order_id,
            phase,
            ts_ns,
            result=result,
            venue_order_id=venue_order_id,
            note=note,
        )

    async def record_reports(self, rows: Sequence[ReportRow], ts_ns: int) -> None:
        """Journal a batch of execution reports in one transaction."""
        await self._call(self.store.record_reports, rows, ts_ns)

    async def append_log(self, entries: Sequence[LogEntry]) -> None:
        """Append log rows (refused requests, cancels)."""
        await self._call(self.store.append_log, entries)

    async def log_entries(self, provider: str, client_order_id: str) -> list[LogEntry]:
        """One order's log, in write order."""
        return await self._call(self.store.log_entries, provider, client_order_id)

    async def purge(self, before_ns: int) -> list[tuple[str, str]]:
        """Drop finished orders older than ``before_ns``; return the keys dropped."""
        return await self._call(self.store.purge, before_ns)

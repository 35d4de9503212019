"""The core's book stage: drives a venue's sans-I/O assembler for each symbol.

One :class:`BookStages` service per provider builds the per-symbol stages (it is the
``ProviderContext.book_stage`` factory) and owns the task that runs resync and refresh
work. A :class:`SymbolBookStage` is called synchronously from the provider's reader task:

* ``on_diff`` / ``on_snapshot`` feed the assembler and pass its BookSnapshot / BookUpdate
  to the provider's sink. Nothing reaches consumers for a symbol before its first
  consistent BookSnapshot, nor between a ResyncNeeded and the next snapshot (the assembler
  buffers diffs meanwhile; the stage also drops any update while not live, and counts it).
* a ResyncNeeded (or ``request_resync``) emits ``book.resync{provider,symbol,reason}``
  (plus ``checksum.failed{provider,symbol}`` for checksums), resets the assembler (a resync
  replaces the book, never merges into it) and queues the provider's ``resync`` callback.
  Requests are coalesced per symbol (the pending set is bounded by the symbol count:
  overflow policy "coalesce") and paced across symbols; see :mod:`tradegw_core.book.resync`.
* every ``refresh_min_s..refresh_max_s`` (jittered) a synced book is refreshed: with a
  ``reconcile`` callback it is compared with a fresh snapshot (differences emit
  ``book.divergence{provider,symbol,levels}`` and a resync with reason ``refresh``),
  without one it is resynced; no output for ``stale_after_s`` resyncs with reason ``stale``.
* a failing callback emits ``book.resync_failed`` / ``book.refresh_failed`` and is retried
  with backoff (``RateLimitedError.retry_after`` honoured).

A new stage starts unsynced. Venues whose subscription does not begin with a snapshot
(Binance depth diffs) call ``stage.request_resync(ResyncReason.INITIAL)`` after
subscribing; after a reconnect call ``request_resync(ResyncReason.RECONNECT)``.

Usage::

    stages = BookStages("binance", sink=ctx_emit, telemetry=telemetry, clock=clock)
    await task_group.start(stages.run)
    stage = stages.make(Symbol("BTC-USDT"), "BTCUSDT", BinanceBookAssembler(...),
                        resync=fetch_snapshot, reconcile=reconcile_snapshot)
    stage.request_resync(ResyncReason.INITIAL)
    stage.on_diff(depth_msg, ts_ingest)       # in the reader task, per frame
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from tradegw_core.book.resync import Action, BookStageSettings, ResyncScheduler, SymbolTimers
from tradegw_core.clock import Clock
from tradegw_core.contracts import (
    BookAssembler,
    BookOutput,
    EventSink,
    ReconcileCallback,
    ResyncCallback,
    ResyncReason,
    Telemetry,
)
from tradegw_core.errors import RateLimitedError
from tradegw_core.schema.events import BookSnapshot, BookUpdate
from tradegw_core.schema.symbols import Symbol

__all__ = [
    "BookStageSettings",
    "BookStageStats",
    "BookStages",
    "SymbolBookStage",
    "book_stage_factory",
    "running_book_stages",
]


@dataclass(slots=True)
class BookStageStats:
    """Counters of one symbol's stage (also reported as telemetry)."""

    snapshots: int = 0
    updates: int = 0
    resyncs: int = 0
    coalesced: int = 0
    checksum_failures: int = 0
    divergences: int = 0
    dropped_unsynced: int = 0
    failures: int = 0


class SymbolBookStage:
    """The stage of one symbol; implements ``tradegw_core.contracts.BookStage``."""

    __slots__ = (
        "_assembler",
        "_clock",
        "_live",
        "_service",
        "_sink",
        "_timers",
        "closed",
        "reconcile",
        "resync",
        "stats",
        "symbol",
        "venue_symbol",
    )

    def __init__(
        self,
        service: BookStages,
        symbol: Symbol,
        venue_symbol: str,
        assembler: BookAssembler[Any, Any],
        timers: SymbolTimers,
        resync: ResyncCallback,
        reconcile: ReconcileCallback | None,
    ) -> None:
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self.resync = resync
        self.reconcile = reconcile
        self.stats = BookStageStats()
        self.closed = False
        self._service = service
        self._assembler = assembler
        self._timers = timers
        self._sink = service.sink
        self._clock = service.clock
        self._live = False

    @property
    def live(self) -> bool:
        """True once a consistent snapshot went out and until the next resync."""
        return self._live

    @property
    def assembler(self) -> BookAssembler[Any, Any]:
        """The venue assembler this stage drives."""
        return self._assembler

    def on_snapshot(self, msg: Any, ts_ingest: int) -> None:
        """Feed a snapshot (REST fetch or the venue's WebSocket)."""
        self._handle(self._assembler.apply_snapshot(msg, ts_ingest))

    def on_diff(self, msg: Any, ts_ingest: int) -> None:
        """Feed a diff from the connection reader (synchronous, hot path)."""
        outputs = self._assembler.apply_diff(msg, ts_ingest)
        if not outputs:
            return
        if self._live and len(outputs) == 1 and type(out := outputs[0]) is BookUpdate:
            # The common case, inlined: one update of a live book.
            self._timers.last_activity_ns = self._clock.monotonic_ns()
            self.stats.updates += 1
            self._sink(out)
        else:
            self._handle(outputs)

    def request_resync(self, reason: ResyncReason, detail: str = "") -> None:
        """Distrust the book: reset the assembler and queue a (coalesced) resync."""
        if self.closed:
            return
        self._live = False
        self._assembler.reset()
        service = self._service
        if not service.scheduler.request(self._timers, reason, self._clock.monotonic_ns()):
            self.stats.coalesced += 1
            return
        self.stats.resyncs += 1
        labels = {"provider": service.provider, "symbol": self.symbol}
        service.telemetry.emit("book.resync", reason=str(reason), detail=detail, **labels)
        if reason is ResyncReason.CHECKSUM:
            self.stats.checksum_failures += 1
            service.telemetry.emit("checksum.failed", detail=detail, **labels)
        service.poke()

    def close(self) -> None:
        """Stop refreshing and resyncing this symbol (after its last unsubscribe)."""
        self._service.discard(self.symbol, self)

    def _handle(self, outputs: Sequence[BookOutput]) -> None:
        for out in outputs:
            if isinstance(out, BookUpdate):
                if self._live:
                    self._timers.last_activity_ns = self._clock.monotonic_ns()
                    self.stats.updates += 1
                    self._sink(out)
                else:
                    self.stats.dropped_unsynced += 1
            elif isinstance(out, BookSnapshot):
                self._live = True
                self.stats.snapshots += 1
                self._service.scheduler.synced(self._timers, self._clock.monotonic_ns())
                self._sink(out)
            else:
                self.request_resync(out.reason, out.detail)
                return  # the assembler was reset: anything after this is void


class BookStages:
    """The per-provider book stage service: a stage factory plus the task that resyncs.

    Call it (or :meth:`make`) like ``ProviderContext.book_stage``. Start :meth:`run` with
    ``TaskGroup.start``; requests made before it starts wait for it.
    """

    def __init__(
        self,
        provider: str,
        *,
        sink: EventSink,
        telemetry: Telemetry,
        clock: Clock,
        settings: BookStageSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.sink = sink
        self.telemetry = telemetry
        self.clock = clock
        self.settings = settings if settings is not None else BookStageSettings()
        self.scheduler = ResyncScheduler(self.settings, rng=rng, now_ns=clock.monotonic_ns())
        self._stages: dict[str, SymbolBookStage] = {}
        self._wake: anyio.Event | None = None
        self._warned_idle = False

    def make(
        self,
        symbol: Symbol,
        venue_symbol: str,
        assembler: BookAssembler[Any, Any],
        *,
        resync: ResyncCallback,
        reconcile: ReconcileCallback | None = None,
    ) -> SymbolBookStage:
        """Build the stage of ``symbol`` (replacing an earlier one for the same symbol)."""
        old = self._stages.get(symbol)
        if old is not None:
            old.closed = True
        timers = self.scheduler.add(
            symbol, self.clock.monotonic_ns(), has_reconcile=reconcile is not None
        )
        stage = SymbolBookStage(self, symbol, venue_symbol, assembler, timers, resync, reconcile)
        self._stages[symbol] = stage
        if self._wake is not None:
            self._wake.set()
        return stage

    __call__ = make

    def get(self, symbol: str) -> SymbolBookStage | None:
        """The live stage of ``symbol``, if any."""
        return self._stages.get(symbol)

    def resync(self, symbol: str, reason: ResyncReason, detail: str = "") -> bool:
        """Resync ``symbol``'s book if it is served (False when it is not)."""
        stage = self._stages.get(symbol)
        if stage is None or stage.closed:
            return False
        stage.request_resync(reason, detail)
        return True

    def discard(self, symbol: str, stage: SymbolBookStage | None = None) -> None:
        """Forget the stage of ``symbol`` (only if it is ``stage``, when given)."""
        current = self._stages.get(symbol)
        if current is None or (stage is not None and current is not stage):
            if stage is not None:
                stage.closed = True
            return
        current.closed = True
        del self._stages[symbol]
        self.scheduler.remove(symbol)

    def poke(self) -> None:
        """Re-evaluate timers now (after a request, or after moving a FakeClock)."""
        if self._wake is not None:
            self._wake.set()
        elif self._stages and not self._warned_idle:
            # Requests wait for run(); say so once, so a miswired gateway is not silent.
            self._warned_idle = True
            self.telemetry.emit("book.stage_not_running", provider=self.provider)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run resyncs, refreshes and stale checks until cancelled."""
        self._wake = anyio.Event()
        self._warned_idle = False
        try:
            async with anyio.create_task_group() as tg:
                task_status.started()
                while True:
                    now = self.clock.monotonic_ns()
                    actions, wake_ns = self.scheduler.poll(now)
                    for action in actions:
                        self._dispatch(tg, action)
                    if actions:
                        continue
                    timeout = math.inf if wake_ns is None else (wake_ns - now) / 1e9
                    with anyio.move_on_after(timeout):
                        await self._wake.wait()
                    self._wake = anyio.Event()
        finally:
            self._wake = None

    def _dispatch(self, tg: TaskGroup, action: Action) -> None:
        stage = self._stages.get(action.symbol)
        if stage is None:  # pragma: no cover - poll only yields tracked symbols
            return
        if action.kind == "request":
            stage.request_resync(
                action.reason, "no book update" if action.reason == "stale" else ""
            )
        elif action.kind == "fetch":
            tg.start_soon(self._fetch, stage, action.reason)
        else:
            tg.start_soon(self._reconcile, stage)

    async def _fetch(self, stage: SymbolBookStage, reason: ResyncReason) -> None:
        try:
            await stage.resync(stage.symbol, reason)
        except Exception as exc:  # any failure is reported and retried with backoff
            self._failed(stage, "book.resync_failed", exc, reason)
        else:
            self.scheduler.finished(stage._timers, self.clock.monotonic_ns(), ok=True)
        self.poke()

    async def _reconcile(self, stage: SymbolBookStage) -> None:
        assert stage.reconcile is not None
        try:
            diverged = await stage.reconcile(stage.symbol)
        except Exception as exc:  # any failure is reported and retried with backoff
            self._failed(stage, "book.refresh_failed", exc, None)
        else:
            self.scheduler.finished(stage._timers, self.clock.monotonic_ns(), ok=True)
            if diverged and stage.live and not stage.closed:
                stage.stats.divergences += 1
                self.telemetry.emit(
                    "book.divergence", provider=self.provider, symbol=stage.symbol, levels=diverged
                )
                stage.request_resync(ResyncReason.REFRESH, f"{diverged} levels differ")
        self.poke()

    def _failed(
        self, stage: SymbolBookStage, name: str, exc: Exception, reason: ResyncReason | None
    ) -> None:
        stage.stats.failures += 1
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        self.telemetry.emit(
            name,
            provider=self.provider,
            symbol=stage.symbol,
            error=type(exc).__name__,
            detail=str(exc)[:200],
        )
        self.scheduler.finished(
            stage._timers,
            self.clock.monotonic_ns(),
            ok=False,
            reason=reason,
            retry_after_s=retry_after,
        )


def book_stage_factory(ctx: Any) -> BookStages:
    """Build the :class:`BookStages` of a provider context (start its ``run`` too!).

    Reads ``ctx.provider_id``, ``ctx.emit``, ``ctx.telemetry``, ``ctx.clock`` and, when
    present, ``ctx.book_settings`` (the ``[book]`` config section: ``refresh_min_s``,
    ``refresh_max_s``, ``stale_after_s`` and optionally ``snapshot_rate_per_s``,
    ``snapshot_burst``, ``max_inflight``, ``backoff_base_s``, ``backoff_cap_s``).
    """
    book = getattr(ctx, "book_settings", None)
    values = book if isinstance(book, Mapping) else vars(book) if book is not None else {}
    settings = BookStageSettings(
        **{k: v for k, v in values.items() if k in BookStageSettings.__dataclass_fields__}
    )
    return BookStages(
        ctx.provider_id,
        sink=ctx.emit,
        telemetry=ctx.telemetry,
        clock=ctx.clock,
        settings=settings,
    )


@asynccontextmanager
async def running_book_stages(ctx: Any) -> AsyncIterator[BookStages]:
    """A provider's :class:`BookStages` with its task running for the block's duration.

    The gateway wraps each provider run in it::

        async with running_book_stages(ctx) as stages:
            ctx.book_stage = stages
            await provider.run(task_status=task_status)
    """
    stages = book_stage_factory(ctx)
    async with anyio.create_task_group() as tg:
        await tg.start(stages.run)
        try:
            yield stages
        finally:
            tg.cancel_scope.cancel()


if TYPE_CHECKING:
    from tradegw_core.contracts import BookStage, BookStageFactory

    def _conforms(
        service: BookStages, stage: SymbolBookStage
    ) -> tuple[BookStageFactory, BookStage]:
        """Let mypy check that the classes satisfy the contracts."""
        return service, stage

"""The order service: trading switch -> dedup -> validation -> risk -> journal -> venue.

One :class:`OrderService` per gateway. The gateway starts :meth:`OrderService.run` with
``TaskGroup.start``; it opens the journal, reloads the dedup table and the tracked orders,
starts the order adapters (the gateway's ``start_adapters``: their reports can be taken from
then on), reconciles every open or unknown order with its venue (the owning consumer is
told the outcome as ExecReports) and then reports ready.
``ConsumerContext.submit_order`` / ``cancel_order`` delegate to :meth:`submit` and
:meth:`cancel`; each adapter's ``run`` gets :meth:`emitter` (or :meth:`on_exec_report`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskGroup, TaskStatus
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.errors import OrderValidationError
from tradegw_core.journal import JournalRecord, LogEntry, OrderJournal
from tradegw_core.observability.tracing import get_tracer, span
from tradegw_core.orders.cancels import CancelHandler
from tradegw_core.orders.dedup import DedupTable
from tradegw_core.orders.metrics import OrderMetrics
from tradegw_core.orders.recovery import Resolver
from tradegw_core.orders.reports import DeliverFn, ReportPipeline
from tradegw_core.orders.risk import RiskContext, build_risk_checks, run_risk_checks
from tradegw_core.orders.sender import OrderSender
from tradegw_core.orders.settings import OrderPathSettings
from tradegw_core.orders.state import OpenOrder, OrderStateTracker, TrackedOrder
from tradegw_core.orders.submission import (
    NullTelemetry,
    Submission,
    duplicate_result,
    make_report,
    new_order,
    request_of,
    restore,
    span_attributes,
)
from tradegw_core.orders.switch import TradingSwitch
from tradegw_core.orders.validation import parse_order, validate_order
from tradegw_core.schema.control import Ack, SetTradingMode
from tradegw_core.schema.events import ExecReport
from tradegw_core.schema.orders import (
    CancelRequest,
    CancelResult,
    OrderRequest,
    OrderResult,
    OrderStatus,
)

__all__ = ["LastTradePrice", "NullTelemetry", "OrderService"]

LastTradePrice = Callable[[str, str], Decimal | None]
"""``last_trade_price(provider, symbol)``: the last trade seen, or None."""

_encode = msgspec.json.Encoder(decimal_format="string").encode


class OrderService:
    """The order path of one gateway (see the module docstring for how it is wired)."""

    def __init__(
        self,
        *,
        adapters: Mapping[str, OrderAdapter],
        deliver: DeliverFn,
        settings: Any = None,
        last_trade_price: LastTradePrice | None = None,
        risk_registry: Any = None,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        metrics_registry: CollectorRegistry | None = None,
        known_consumers: Callable[[], Collection[str]] | None = None,
        log: logging.Logger | None = None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.settings = OrderPathSettings.from_settings(settings)
        self._adapters = adapters
        self._last = last_trade_price or (lambda provider, symbol: None)
        self._clock: Clock = clock or SystemClock()
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self.metrics = OrderMetrics(metrics_registry)
        self._log = log or logging.getLogger("tradegw.orders")
        self._tracer = tracer if tracer is not None else get_tracer("tradegw.orders")
        self._risk = build_risk_checks(self.settings, risk_registry)
        self.switch = TradingSwitch(
            global_on_start=self.settings.trading_enabled_on_start,
            known_consumers=known_consumers,
            telemetry=self._telemetry,
        )
        self.journal = OrderJournal(self.settings.journal_path)
        self.pipeline = ReportPipeline(
            self.journal,
            deliver,
            clock=self._clock,
            telemetry=self._telemetry,
            log=self._log,
            capacity=self.settings.report_buffer,
            metrics=self.metrics,
        )
        self.tracker = OrderStateTracker(
            self.pipeline,
            telemetry=self._telemetry,
            metrics=self.metrics,
            log=self._log,
            clock=self._clock,
        )
        self._resolver = Resolver(
            adapters,
            settings=self.settings,
            feed=self.tracker.feed,
            synthetic=lambda o, st, why: make_report(o, st, why, self._clock),
            clock=self._clock,
            telemetry=self._telemetry,
            log=self._log,
            tracer=self._tracer,
        )
        self._cancels = CancelHandler(
            adapters,
            tracker=self.tracker,
            timeout_s=self.settings.submit_timeout_s,
            log_entry=self._log_entry,
            feed=self.tracker.feed,
            spawn_refresh=self._spawn_refresh,
            tracer=self._tracer,
        )
        self._sender = OrderSender(
            journal=self.journal,
            tracker=self.tracker,
            settings=self.settings,
            clock=self._clock,
            telemetry=self._telemetry,
            log=self._log,
            feed=self.tracker.feed,
            spawn_resolve=self._spawn_resolve,
            tracer=self._tracer,
        )
        self._dedup = DedupTable()
        self._tg: TaskGroup | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def run(
        self,
        *,
        start_adapters: Callable[[], Awaitable[None]] | None = None,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Open the journal, reload, reconcile, report ready; run until cancelled.

        ``start_adapters`` (the gateway's) is awaited once reports can be taken (orders
        reloaded, pipeline running) and before reconciliation queries the venues.
        """
        async with self.journal, anyio.create_task_group() as tg:
            await self.purge()
            pending = self._reload(await self.journal.load())
            await tg.start(self.pipeline.run)
            if start_adapters is not None:
                await start_adapters()
            reconciled = anyio.Event()
            tg.start_soon(self._reconcile, pending, reconciled)
            # Owners hear about their open orders before new orders are taken, unless a
            # venue is slow to answer: then start-up goes on and reconciliation finishes
            # in the background (dedup and open-order counts already include those orders).
            with anyio.move_on_after(self.settings.reconcile_wait_s):
                await reconciled.wait()
            self._tg = tg
            task_status.started()
            try:
                while True:
                    await anyio.sleep(self.settings.purge_interval_s)
                    await self.purge()
            finally:
                self._tg = None

    async def _reconcile(self, pending: list[tuple[TrackedOrder, bool]], done: anyio.Event) -> None:
        try:
            await self._resolver.reconcile(pending)
            await self.pipeline.wait_flushed()
        finally:
            done.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OrderService]:
        """``async with service.running():`` runs the service for the block (tests, tools)."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.run)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    def _reload(self, records: list[JournalRecord]) -> list[tuple[TrackedOrder, bool]]:
        pending: list[tuple[TrackedOrder, bool]] = []
        for rec in records:
            order, sub, never_acked = restore(rec)
            self.tracker.track(order)
            self._dedup.remember((rec.provider, rec.client_order_id), sub)
            if never_acked or order.is_open:
                pending.append((order, never_acked))
        return pending

    async def purge(self) -> int:
        """Forget finished orders older than the dedup retention; return how many."""
        cutoff = self._clock.time_ns() - int(self.settings.dedup_retention_s * 1e9)
        keys = await self.journal.purge(cutoff)
        for provider, cid in keys:
            self._dedup.forget((provider, cid))
            self.tracker.forget(provider, cid)
        return len(keys)

    # -- the consumer's API --------------------------------------------------------------

    def set_trading_mode(self, msg: SetTradingMode) -> Ack:
        """The control-bus handler for SetTradingMode."""
        return self.switch.apply(msg)

    def open_orders(self, consumer_id: str) -> list[OpenOrder]:
        """The consumer's open (or in-flight) orders."""
        return self.tracker.open_orders(consumer_id)

    async def submit(self, order: OrderRequest | Mapping[str, Any]) -> OrderResult:
        """Submit one order; the answer says what happened (never raises for a bad order)."""
        try:
            req = parse_order(order)
        except OrderValidationError as exc:
            raw = dict(order) if isinstance(order, Mapping) else {}
            return await self._refuse(raw, OrderStatus.REJECTED, exc.reason, str(exc))
        with span(self._tracer, "order.submit", span_attributes(req)) as current:
            ctx = current.get_span_context()
            trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else uuid.uuid4().hex
            result = await self._submit(req, trace_id)
            current.set_attribute("status", str(result.status))
        self.metrics.submitted.labels(req.provider, str(result.status)).inc()
        return result

    async def _submit(self, req: OrderRequest, trace_id: str) -> OrderResult:
        if self._tg is None:
            return OrderResult(
                client_order_id=req.client_order_id,
                status=OrderStatus.REJECTED,
                reason="not_running",
                message="the order service is not running (starting up or stopped); retry",
            )
        why_off = self.switch.why_disabled(req.consumer_id)
        if why_off is not None:
            self.metrics.suppressed.labels(req.consumer_id).inc()
            self._telemetry.emit(
                "order.suppressed",
                consumer_id=req.consumer_id,
                provider=req.provider,
                symbol=req.symbol,
                client_order_id=req.client_order_id,
            )
            return await self._refuse(
                request_of(req), OrderStatus.SUPPRESSED, "trading_disabled", why_off
            )
        key = (req.provider, req.client_order_id)
        first = await self._dedup.first_of(key)
        if first is not None and first.result is not None:
            return await self._duplicate(req, first, first.result)
        sub = self._dedup.reserve(key, req.consumer_id)  # before the next await: twins wait
        try:
            result = await self._checked_send(req, trace_id, sub)
            sub.result = result
            return result
        finally:
            self._dedup.settle(key, sub)

    async def _checked_send(self, req: OrderRequest, trace_id: str, sub: Submission) -> OrderResult:
        adapter = self._adapters.get(req.provider)
        if adapter is None:
            known = ", ".join(sorted(self._adapters)) or "none"
            msg = f"unknown provider {req.provider!r} (order adapters: {known})"
            return await self._refuse(
                request_of(req), OrderStatus.REJECTED, "unknown_provider", msg
            )
        last = self._last(req.provider, req.symbol)
        try:
            inst = validate_order(req, adapter, last)
        except OrderValidationError as exc:
            return await self._refuse(request_of(req), OrderStatus.REJECTED, exc.reason, str(exc))
        ctx = RiskContext(inst, self.tracker.open_count(req.consumer_id), last)
        refused = run_risk_checks(self._risk, req, ctx)
        if refused is not None:
            name, why = refused
            self.metrics.risk_rejected.labels(name).inc()
            self._telemetry.emit(
                "order.risk_rejected", consumer_id=req.consumer_id, check=name, reason=why
            )
            return await self._refuse(request_of(req), OrderStatus.REJECTED, f"risk:{name}", why)
        order = new_order(req, inst.venue_symbol, trace_id, self._clock.time_ns())
        order.submitted_mono_ns = self._clock.monotonic_ns()
        # The open-order slot is taken before the next await, so concurrent submissions
        # cannot all pass max_open_orders; it is given back if nothing left the process.
        self.tracker.track(order)
        try:
            # Shielded: once journaled, a consumer's cancellation must not leave the send
            # half-done and unresolved.
            with anyio.CancelScope(shield=True):
                result = await self._sender.send(req, order, adapter, sub)
            return result
        finally:
            if not sub.sent:
                self.tracker.forget(req.provider, req.client_order_id)

    def _spawn_resolve(self, order: TrackedOrder) -> None:
        assert self._tg is not None  # submissions only run while the service runs
        self._tg.start_soon(self._resolve_unknown, order)

    async def _resolve_unknown(self, order: TrackedOrder) -> None:
        await self._resolver.resolve(order, never_acked=True)

    async def _duplicate(
        self, req: OrderRequest, sub: Submission, first: OrderResult
    ) -> OrderResult:
        self.metrics.duplicates.labels(req.consumer_id).inc()
        self._telemetry.emit(
            "order.duplicate",
            consumer_id=req.consumer_id,
            provider=req.provider,
            client_order_id=req.client_order_id,
        )
        await self._log_entry("duplicate", request_of(req), "")
        return duplicate_result(
            req, sub, first, self.tracker.get(req.provider, req.client_order_id)
        )

    async def _refuse(
        self, raw: dict[str, Any], status: OrderStatus, reason: str, message: str
    ) -> OrderResult:
        await self._log_entry(f"{status.value.lower()}:{reason}", raw, message)
        return OrderResult(
            client_order_id=str(raw.get("client_order_id", "")),
            status=status,
            reason=reason,
            message=message,
        )

    async def _log_entry(self, kind: str, raw: dict[str, Any], message: str) -> None:
        if self._tg is None:
            return  # journal closed: nothing was accepted, nothing to record
        payload = _encode({"request": raw, "message": message}).decode()
        entry = LogEntry(
            ts_ns=self._clock.time_ns(),
            kind=kind,
            provider=str(raw.get("provider", "")),
            client_order_id=str(raw.get("client_order_id", "")),
            consumer_id=str(raw.get("consumer_id", "")),
            payload=payload,
        )
        await self.journal.append_log([entry])

    # -- cancels -------------------------------------------------------------------------

    async def cancel(self, request: CancelRequest) -> CancelResult:
        """Cancel one of the consumer's orders (allowed whatever the trading switch says)."""
        return await self._cancels.cancel(request)

    async def cancel_all(
        self, consumer_id: str, *, provider: str | None = None, symbol: str | None = None
    ) -> list[CancelResult]:
        """Cancel every open order of ``consumer_id`` (optionally one provider / symbol)."""
        return await self._cancels.cancel_all(consumer_id, provider=provider, symbol=symbol)

    def _spawn_refresh(self, order: TrackedOrder) -> bool:
        if self._tg is None:
            return False
        self._tg.start_soon(self._refresh, order)
        return True

    async def _refresh(self, order: TrackedOrder) -> None:
        await self._resolver.resolve(order, never_acked=False)

    # -- execution reports ---------------------------------------------------------------

    def on_exec_report(self, report: ExecReport) -> None:
        """The adapters' ``emit``: take one report from a user stream (synchronous)."""
        self.tracker.on_exec_report(report)

    def emitter(self, provider: str) -> Callable[[ExecReport], None]:
        """An ``emit`` for ``provider``'s adapter that fills in ``report.provider``."""

        def emit(report: ExecReport) -> None:
            if not report.provider:
                report.provider = provider
            self.tracker.on_exec_report(report)

        return emit

"""The order service: trading switch -> dedup -> validation -> risk -> journal -> venue.

One :class:`OrderService` per gateway (per-venue availability and reconciliation:
:mod:`tradegw_core.orders.venues`). The gateway starts :meth:`OrderService.run` with
``TaskGroup.start``; it opens the journal, reloads the dedup table and the tracked orders,
starts the order adapters (the gateway's ``start_adapters``: their reports can be taken from
then on) and reports ready without waiting for any venue. Each time an adapter runs
(:meth:`adapter_started`: its first start, and after every restart of it or its user
stream) the orders of that venue are reconciled by query: at the first start every order
the journal left open or unknown (the owner is told each answer), after a restart every
open order (the owner is told only what it missed, in order). Until that venue's
reconciliation is done, and while its adapter is not running, a submission to it is
REJECTED with ``retryable`` set (reason ``venue_unavailable``): nothing was sent.

:meth:`drain` is the graceful stop: new submissions are refused (``shutting_down``), the
ones in flight are waited for (bounded), orders whose outcome is still unknown are queried
(bounded), then the journal may close. ``submit`` never raises, also during shutdown.
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
from tradegw_core.errors import JournalError, OrderValidationError, TradegwError
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
    not_taken,
    request_of,
    restore,
    span_attributes,
)
from tradegw_core.orders.switch import TradingSwitch
from tradegw_core.orders.validation import parse_order, validate_order
from tradegw_core.orders.venues import InFlight, VenueGate
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

JOURNAL_CHECK_S = 0.5
"""How often the journal file's identity is checked (a deleted or replaced file is noticed
within this long)."""


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
        adapter_down: Callable[[str], str | None] | None = None,
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
        self._work: TaskGroup | None = None
        self.venues = VenueGate(
            adapters,
            resolver=self._resolver,
            tracker=self.tracker,
            pipeline=self.pipeline,
            log=self._log,
            adapter_down=adapter_down,
        )
        self._inflight = InFlight()
        self._closing = False

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
            self._work = tg
            await self.purge()
            orphans = self.venues.load(self._reload(await self.journal.load()))
            tg.start_soon(self._watch_journal)
            await tg.start(self.pipeline.run)
            if orphans:  # no adapter for their venue: reported unresolved (at once), kept
                await self._resolver.reconcile(orphans)
            if start_adapters is not None:
                await start_adapters()  # each calls adapter_started() once it runs
            else:
                for name in self._adapters:
                    await self.adapter_started(name, False)
            self._tg = tg
            task_status.started()
            try:
                while True:
                    await anyio.sleep(self.settings.purge_interval_s)
                    await self.purge()
            finally:
                self._tg = None
                self._work = None

    async def adapter_started(self, provider: str, restarted: bool) -> None:
        """``provider``'s adapter runs (again): reconcile its orders (:class:`VenueGate`)."""
        assert self._work is not None, "adapter_started() before run()"
        self.venues.started(self._work, provider, restarted)

    async def wait_reconciled(self, provider: str) -> None:
        """Until ``provider``'s orders are reconciled after its adapter's latest start."""
        await self.venues.wait_reconciled(provider)

    def venue_unavailable(self, provider: str) -> str | None:
        """Why a submission to ``provider`` cannot be sent now (None: it can)."""
        return self.venues.unavailable(provider)

    @property
    def closing(self) -> bool:
        """True once the gateway stops: new submissions are refused (retryable)."""
        return self._closing

    def stop_taking(self) -> None:
        """Refuse new submissions from now on (the gateway is stopping); those in flight go on."""
        self._closing = True

    async def drain(self, wait_s: float) -> None:
        """Stop taking submissions; finish or resolve those in flight, within ``wait_s``.

        Submissions still being sent are waited for; orders whose outcome is unknown
        (the venue's answer was lost) are queried, so the journal says what the venue
        did before it closes. What is still unknown after ``wait_s`` stays UNKNOWN in the
        journal and is reconciled at the next start.
        """
        self._closing = True
        with anyio.move_on_after(wait_s):
            await self._inflight.wait_idle()
            await self.venues.resolve_unknown()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OrderService]:
        """``async with service.running():`` runs the service for the block (tests, tools),
        its adapters' orders reconciled when the block starts (or ``reconcile_wait_s``
        passed: then reconciliation goes on in the background)."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.run)
            with anyio.move_on_after(self.settings.reconcile_wait_s):
                for name in self._adapters:
                    await self.wait_reconciled(name)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _watch_journal(self) -> None:
        """Notice within :data:`JOURNAL_CHECK_S` that the journal file was deleted or replaced:
        trading is switched off for everyone, the error logged and exported."""
        problem = None
        while problem is None:  # polling: a file's removal signals nothing we can await
            await anyio.sleep(JOURNAL_CHECK_S)
            problem = self.journal.gone()
        self.switch.set(None, False)
        self.metrics.journal_ok.set(0)
        self._telemetry.emit("journal.lost", path=str(self.settings.journal_path))
        self._log.error(
            "%s: global trading is OFF (nothing more can be journaled safely); restart the "
            "gateway on a journal that is in place",
            problem,
        )

    def _reload(self, records: list[JournalRecord]) -> list[tuple[TrackedOrder, bool]]:
        pending: list[tuple[TrackedOrder, bool]] = []
        for rec in records:
            try:
                order, sub, never_acked = restore(rec)
            except Exception as exc:  # a damaged row: the journal is not trustworthy
                path = str(self.settings.journal_path)
                raise JournalError(
                    f"the order journal {path} is corrupt: order {rec.provider}/"
                    f"{rec.client_order_id} cannot be read ({type(exc).__name__})",
                    path=path,
                ) from exc
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
        """Submit one order; the answer says what happened (never raises, also not while
        the gateway starts or stops)."""
        try:
            req = parse_order(order)
        except OrderValidationError as exc:
            raw = dict(order) if isinstance(order, Mapping) else {}
            return await self._refuse(raw, OrderStatus.REJECTED, exc.reason, str(exc))
        self._inflight.enter()
        try:
            with span(self._tracer, "order.submit", span_attributes(req)) as current:
                ctx = current.get_span_context()
                trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else uuid.uuid4().hex
                result = await self._submit(req, trace_id)
                current.set_attribute("status", str(result.status))
        except TradegwError as exc:  # the journal failed under us: nothing was sent
            self._log.error("submission %s/%s failed: %s", req.provider, req.client_order_id, exc)
            result = not_taken(req, "journal_unavailable", f"the order journal failed: {exc}")
        finally:
            self._inflight.leave()
        self.metrics.submitted.labels(req.provider, str(result.status)).inc()
        return result

    async def _submit(self, req: OrderRequest, trace_id: str) -> OrderResult:
        if self._tg is None or self._closing:
            return not_taken(
                req,
                "shutting_down" if self._closing else "not_running",
                "the order service is stopping; nothing was sent"
                if self._closing
                else "the order service is not running yet; nothing was sent, retry",
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
        down = self.venue_unavailable(req.provider)
        if down is not None:
            await self._log_entry("rejected:venue_unavailable", request_of(req), down)
            return not_taken(req, "venue_unavailable", f"{down}; nothing was sent")
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

"""Wiring of the order path into the gateway: order adapters and the order service.

When no order service is injected and enabled providers registered order adapters, the
gateway builds ``tradegw_core.orders.handler.OrderService`` (imported lazily) around them,
delivering exec reports through the dispatcher's lossless lane. Each adapter's user stream
runs under a :class:`Supervisor` (restart with backoff; required providers stop the gateway).
Adapters connect on their own schedules (start-up never waits for a venue); each time one
runs (first start or restart) the service reconciles that venue's orders by query
(``OrderService.adapter_started``), and while one is not running the service refuses
submissions to it as retryable (nothing is sent).

Trading runs only where it is configured. The adapter is asked at start-up: a factory that
raises :class:`ConfigError` (missing trading keys), or an adapter whose optional
``trading_unavailable()`` returns a reason, leaves that provider without an adapter, logged
once as ``trading disabled for <provider>: <reason>`` (telemetry ``order_adapter.disabled``).
An adapter that only finds out in ``run`` (raising ConfigError there) is stopped the same
way, never retried. ``gateway.required_providers`` makes a provider's market data required,
never an order adapter that is not configured: a market-data-only setup without keys runs.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from tradegw_core.clock import Clock
from tradegw_core.consumer.context import OrderService
from tradegw_core.contracts import Telemetry
from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.errors import ConfigError
from tradegw_core.net.backoff import Backoff
from tradegw_core.orchestrator.context import GatewayOrderAdapterContext, section
from tradegw_core.orchestrator.control import TradingModeHandler
from tradegw_core.orchestrator.supervisor import Supervisor
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import ExecReport

__all__ = ["OrderPath"]

_log = logging.getLogger("tradegw.orders")

_DISABLED = "trading disabled for {name}: {reason}"


def _unavailable(adapter: object) -> str | None:
    """The adapter's own reason why it cannot trade (optional ``trading_unavailable()``)."""
    check = getattr(adapter, "trading_unavailable", None)
    if not callable(check):
        return None
    reason = check()
    return str(reason) if reason else None


def _same(adapter: OrderAdapter) -> OrderAdapter:
    # An adapter is built once: the order service holds it, so a restart reuses it.
    return adapter


class OrderPath:
    """The order service and the adapters it drives (both optional)."""

    def __init__(
        self,
        settings: Any,
        registries: Registries,
        *,
        service: OrderService | None,
        dispatcher: Dispatcher,
        clock: Clock,
        telemetry: Telemetry,
        metrics: Any,
        consumers: Callable[[], list[str]],
        backoff: Backoff | None = None,
        stable_after: float = 60.0,
    ) -> None:
        self._telemetry = telemetry
        self._clock = clock
        self._backoff = backoff
        self._stable_after = stable_after
        self._required = set(settings.gateway.required_providers)
        orders = getattr(settings, "orders", None)
        self._reconcile_wait_s = float(getattr(orders, "reconcile_wait_s", 15.0))
        self.adapters: dict[str, OrderAdapter] = {}
        self.disabled: dict[str, str] = {}
        """Providers with an order adapter whose trading is not configured, and why."""
        if service is None:
            for name in settings.gateway.providers:
                if name in registries.order_adapters:
                    ctx = GatewayOrderAdapterContext(
                        name,
                        section(settings, "providers", name),
                        clock=clock,
                        telemetry=telemetry,
                        metrics=metrics,
                    )
                    try:
                        adapter = registries.order_adapters.get(name)(ctx)
                    except ConfigError as exc:
                        self._disable(name, str(exc))
                        continue
                    reason = _unavailable(adapter)
                    if reason is not None:
                        self._disable(name, reason)
                        continue
                    self.adapters[name] = adapter
            if self.adapters:
                handler = importlib.import_module("tradegw_core.orders.handler")
                service = handler.OrderService(
                    adapters=self.adapters,
                    deliver=dispatcher.deliver_exec,
                    settings=getattr(settings, "orders", None),
                    risk_registry=registries.risk_checks,
                    clock=clock,
                    telemetry=telemetry,
                    metrics_registry=getattr(metrics, "registry", None),
                    known_consumers=consumers,
                    adapter_down=self._adapter_down,
                )
        self.service = service
        switch = getattr(service, "switch", None)
        self.trading: TradingModeHandler | None = switch if hasattr(switch, "apply") else None
        self.supervisors: dict[str, Supervisor[OrderAdapter]] = {}

    def _disable(self, name: str, reason: str) -> None:
        self.disabled[name] = reason
        self._telemetry.emit("order_adapter.disabled", provider=name, reason=reason)
        _log.warning(_DISABLED.format(name=name, reason=reason))

    def _adapter_down(self, name: str) -> str | None:
        sup = self.supervisors.get(name)
        if sup is None or sup.current is not None:
            return None
        if sup.gave_up:
            return f"the order adapter of {name!r} is stopped for good ({sup.last_error})"
        return (
            f"the order adapter of {name!r} is not running ({sup.last_error or 'still connecting'})"
        )

    def not_running(self, name: str) -> str | None:
        """Why ``name``'s adapter is not running (None: it runs, has none, or is disabled)."""
        sup = self.supervisors.get(name)
        if sup is None or sup.current is not None or sup.gave_up:
            return None
        return self._adapter_down(name)

    def unavailable(self, name: str) -> str | None:
        """Why ``name`` cannot take orders now (None: it can, or it has no adapter)."""
        check = getattr(self.service, "venue_unavailable", None)
        sup = self.supervisors.get(name)
        if check is None or sup is None or sup.gave_up:
            return None
        why: str | None = check(name)
        return why

    async def wait_ready(self, name: str) -> None:
        """Until ``name``'s adapter runs and its orders are reconciled (no adapter: at once;
        reconciliation is waited for at most ``[orders] reconcile_wait_s``)."""
        sup = self.supervisors.get(name)
        if sup is None:
            return
        await sup.until(lambda s: s.current is not None or s.gave_up)
        wait = getattr(self.service, "wait_reconciled", None)
        if wait is not None and not sup.gave_up:
            with anyio.move_on_after(self._reconcile_wait_s):
                await wait(name)

    def stop_taking(self) -> None:
        """The gateway stops: refuse new submissions (``OrderService.stop_taking``)."""
        stop = getattr(self.service, "stop_taking", None)
        if stop is not None:
            stop()

    async def drain(self, wait_s: float) -> None:
        """Resolve in-flight submissions before the journal closes (``OrderService.drain``)."""
        drain = getattr(self.service, "drain", None)
        if drain is not None:
            await drain(wait_s)

    async def start(self, tg: TaskGroup) -> None:
        """Start the service (if it has a ``run``) and every adapter's user stream.

        A built service starts the adapters itself, once it can take their reports and
        before it reconciles (its queries need running adapters).
        """
        run = getattr(self.service, "run", None)
        if run is not None and self.adapters:
            await tg.start(
                functools.partial(run, start_adapters=functools.partial(self._adapters_in, tg))
            )
        elif run is not None:
            await tg.start(run)

    async def _adapters_in(self, tg: TaskGroup) -> None:
        emitter: Callable[[str], Callable[[ExecReport], None]] | None = getattr(
            self.service, "emitter", None
        )
        for name, adapter in self.adapters.items():
            if emitter is None:  # pragma: no cover - a built service always has one
                break
            emit = emitter(name)

            async def _run(
                a: OrderAdapter, status: TaskStatus[None], emit: Callable[[ExecReport], None] = emit
            ) -> None:
                await a.run(emit, task_status=status)

            sup: Supervisor[OrderAdapter] = Supervisor(
                name,
                functools.partial(_same, adapter),
                _run,
                required=name in self._required,
                telemetry=self._telemetry,
                clock=self._clock,
                backoff=self._backoff,
                stable_after=self._stable_after,
                kind="order_adapter",
                not_configured=(ConfigError,),
                disabled_message=_DISABLED,
                on_started=functools.partial(self._started, name),
            )
            self.supervisors[name] = sup
            tg.start_soon(sup.run)  # connects on its own schedule; start-up goes on

    async def _started(self, name: str, _adapter: OrderAdapter, restarted: bool) -> None:
        started = getattr(self.service, "adapter_started", None)
        if started is not None:
            await started(name, restarted)

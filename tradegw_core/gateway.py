"""The composition root: one :class:`Gateway` owns every component and task of a process.

Built from validated settings (only attribute access is used: ``settings.gateway`` with
``providers`` / ``consumers`` / ``required_providers``, ``settings.dispatcher`` with
``lane_size`` / ``overflow`` / ``lateness_ms`` / ``flush_ms`` / ``dedup_window``, optionally
``settings.merge`` (:class:`~tradegw_core.config.models.MergeSettings`), and plugin
sections under ``settings.providers.<name>`` / ``settings.consumers.<name>``) and a frozen
:class:`~tradegw_core.plugin.registries.Registries`.

``async with Gateway(...) as gw`` starts, in order: the control task, the 50 ms ordering
flush tick (which also closes merge windows on time), the order path (when configured),
every provider (each under a :class:`Supervisor`), then every consumer (``on_start`` may
subscribe right away), and last the HTTP control API when ``[api] enabled`` (its URL:
:attr:`Gateway.api_url`). Start-up never waits for a venue: providers and order adapters
connect on their own schedules (retrying with backoff), and a subscription to a provider
not running yet is accepted as pending and served once it runs. Only
``gateway.required_providers`` gate start-up, for at most ``gateway.required_timeout_s``
(then :class:`ProviderFailedError` names those not running). Leaving the block shuts down
cleanly under a shielded, time-bounded scope: providers stop first, held events are flushed
to the lanes, consumers drain their lanes and get ``on_stop``, then the order path drains
(submissions in flight finish or are resolved by query, bounded) before the order adapters
stop and the journal closes.
:func:`run_gateway` is what the CLI calls: it adds SIGINT/SIGTERM handling and a duration.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from tradegw_core.api.server import ControlApi
from tradegw_core.bus.control import ControlBus
from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.clock import Clock, SystemClock
from tradegw_core.consumer.context import ConsumerContext, OrderService
from tradegw_core.consumer.runner import ConsumerStats, run_consumer
from tradegw_core.consumer.subscriptions import SubscriptionManager
from tradegw_core.contracts import Consumer, Provider
from tradegw_core.dispatcher.books import AssembledBooks
from tradegw_core.dispatcher.dispatcher import Budget, Dispatcher
from tradegw_core.dispatcher.metrics import DispatcherMetrics
from tradegw_core.errors import ConfigError, JournalError, ProviderFailedError
from tradegw_core.net.backoff import Backoff
from tradegw_core.observability.metrics import Metrics, MetricsExporter
from tradegw_core.observability.ops_log import consumer_started, consumer_stopped, settings_summary
from tradegw_core.observability.ops_metrics import GatewayMetrics
from tradegw_core.orchestrator.context import (
    BookStageParts,
    GatewayProviderContext,
    make_book_stages,
    process_epoch,
    section,
)
from tradegw_core.orchestrator.control import ControlService
from tradegw_core.orchestrator.merge_control import install_merges
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.orchestrator.orders import OrderPath
from tradegw_core.orchestrator.supervisor import Supervisor
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.control import Ack

__all__ = ["Gateway", "run_gateway"]

_log = logging.getLogger("tradegw.gateway")


def _raise_provider_failure(error: BaseException) -> None:
    """Raise the ProviderFailedError, JournalError or start-up ConfigError (e.g. the API's
    port is taken) inside ``error`` (maybe nested in groups), if any."""
    if isinstance(error, ProviderFailedError | ConfigError | JournalError):
        return
    if isinstance(error, BaseExceptionGroup):
        failed = error.subgroup((ProviderFailedError, ConfigError, JournalError))
        if failed is not None:
            first: BaseException = failed
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from error


async def _run_provider(provider: Provider, task_status: TaskStatus[None]) -> None:
    await provider.run(task_status=task_status)


class Gateway:
    """One running tradegw: providers -> orchestrator -> dispatcher -> consumers."""

    def __init__(
        self,
        settings: Any,
        registries: Registries,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        telemetry: TelemetryBus | None = None,
        order_service: OrderService | None = None,
        restart_backoff: Backoff | None = None,
        stable_after: float = 60.0,
        control_timeout: float = 5.0,
        provider_call_timeout: float = 10.0,
        shutdown_timeout: float = 5.0,
    ) -> None:
        gw = settings.gateway
        disp = settings.dispatcher
        strangers = sorted(set(disp.budgets) - set(gw.consumers))
        if strangers:
            raise ConfigError(f"dispatcher.budgets names {strangers}, not in gateway.consumers")
        unknown_required = set(gw.required_providers) - set(gw.providers)
        if unknown_required:
            raise ProviderFailedError(
                f"gateway.required_providers names {sorted(unknown_required)} which are not in "
                "gateway.providers"
            )
        self.settings = settings
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.metrics = metrics if metrics is not None else Metrics()
        self.telemetry = (
            telemetry
            if telemetry is not None
            else TelemetryBus(clock=self.clock, metrics=self.metrics)
        )
        self.dispatcher = Dispatcher(
            clock=self.clock,
            telemetry=self.telemetry,
            lane_size=disp.lane_size,
            overflow=disp.overflow,
            lateness_ms=disp.lateness_ms,
            dedup_window=disp.dedup_window,
            budget=Budget(disp.rate, disp.burst),
            budgets={name: Budget(b.rate, b.burst) for name, b in disp.budgets.items()},
            backlog_size=disp.backlog_size,
        )
        self.flush_s = disp.flush_ms / 1000
        self.dispatcher_metrics = DispatcherMetrics(self.dispatcher, self.metrics)
        self.gateway_metrics = GatewayMetrics(self)
        self.orchestrator = Orchestrator(self.dispatcher)
        self.control_bus = ControlBus(timeout=control_timeout)
        self.subscriptions = SubscriptionManager(self.dispatcher)
        self._shutdown_timeout = shutdown_timeout
        self.providers: dict[str, Supervisor[Provider]] = {}
        self.control = ControlService(
            dispatcher=self.dispatcher,
            subscriptions=self.subscriptions,
            providers=self.providers,
            telemetry=self.telemetry,
            call_timeout=provider_call_timeout,
        )
        self.merge_stage = install_merges(
            getattr(settings, "merge", None),
            control=self.control,
            orchestrator=self.orchestrator,
            subscriptions=self.subscriptions,
            clock=self.clock,
            telemetry=self.telemetry,
            metrics=self.metrics,
        )
        """Windowed multi-venue merges; in-flight windows live only as long as this gateway."""
        self.provider_contexts: dict[str, GatewayProviderContext] = {}
        self.epoch = process_epoch()
        """This process's epoch (part of every provider's ``run_epoch``)."""
        self._required_timeout = float(getattr(gw, "required_timeout_s", 30.0))
        self.book_stages: dict[str, Any] = {}
        self.dispatcher.books = AssembledBooks(self.book_stages, self.clock)
        parts = BookStageParts(
            clock=self.clock, telemetry=self.telemetry, book=getattr(settings, "book", None)
        )
        for name in gw.providers:
            factory = registries.providers.get(name)
            stages = make_book_stages(name, self.orchestrator.emit, parts)
            if stages is not None:
                self.book_stages[name] = stages
            ctx = GatewayProviderContext(
                name,
                section(settings, "providers", name),
                clock=self.clock,
                telemetry=self.telemetry,
                metrics=self.metrics,
                orchestrator=self.orchestrator,
                dispatcher=self.dispatcher,
                book_stage=stages,
                epoch=self.epoch,
            )
            self.provider_contexts[name] = ctx
            self.providers[name] = Supervisor(
                name,
                functools.partial(factory, ctx),
                _run_provider,
                required=name in gw.required_providers,
                telemetry=self.telemetry,
                clock=self.clock,
                backoff=restart_backoff,
                stable_after=stable_after,
                on_started=functools.partial(self.control.resubscribe, name),
                on_make=ctx.new_run,
            )
        self.orders = OrderPath(
            settings,
            registries,
            service=order_service,
            dispatcher=self.dispatcher,
            clock=self.clock,
            telemetry=self.telemetry,
            metrics=self.metrics,
            consumers=lambda: list(gw.consumers),
            backoff=restart_backoff,
            stable_after=stable_after,
        )
        self.control.trading = self.orders.trading
        self.consumers: dict[str, Consumer] = {}
        self.consumer_contexts: dict[str, ConsumerContext] = {}
        self.consumer_stats: dict[str, ConsumerStats] = {}
        for name in gw.consumers:
            factory = registries.consumers.get(name)
            self.consumers[name] = factory(section(settings, "consumers", name))
            self.dispatcher.add_consumer(name)
            self.consumer_contexts[name] = ConsumerContext(
                name,
                control=self.control_bus,
                clock=self.clock,
                settings=section(settings, "consumers", name),
                metrics=self.metrics,
                order_service=self.orders.service,
                subscriptions=self.subscriptions.streams_of,
            )
            self.consumer_stats[name] = ConsumerStats()
        self._stack: contextlib.AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._providers_scope = anyio.CancelScope()
        self._providers_done = anyio.Event()
        self._consumers_left = 0
        self._consumers_done = anyio.Event()
        self.stopped = anyio.Event()
        api = getattr(settings, "api", None)
        self.api: ControlApi | None = (
            ControlApi.from_settings(self, api) if api is not None and api.enabled else None
        )
        """The HTTP control API (``[api] enabled``), started last, after the consumers."""
        self.metrics_url: str | None = None
        """Where Prometheus scrapes this gateway, when :func:`run_gateway` serves metrics."""

    # -- control ---------------------------------------------------------------------

    async def request(self, msg: Any) -> Ack:
        """Send a control message (model, JSON or mapping) and return its Ack."""
        return await self.control_bus.request(msg)

    @property
    def api_url(self) -> str | None:
        """Base URL of the HTTP control API once it listens (None when ``[api]`` is off)."""
        return self.api.url if self.api is not None else None

    def stop(self) -> None:
        """Ask :func:`run_gateway` (or anyone awaiting ``stopped``) to shut down."""
        self.stopped.set()

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            tg = await stack.enter_async_context(anyio.create_task_group())
            self._tg = tg
            await tg.start(self.control_bus.serve, self.control.handle)
            tg.start_soon(self._flush_tick)
            await self.orders.start(tg)
            self.export_metrics()  # every counter exists (at 0) from start-up
            for stages in self.book_stages.values():
                await tg.start(stages.run)
            await tg.start(self._run_providers)
            self._consumers_left = len(self.consumers)
            if not self.consumers:
                self._consumers_done.set()
            for name, consumer in self.consumers.items():
                await tg.start(self._run_consumer, name, consumer)
                consumer_started(name)
            if self.api is not None:
                await tg.start(self.api.serve)
        except BaseException as exc:
            try:
                await stack.__aexit__(type(exc), exc, exc.__traceback__)
            except BaseException as cleanup:
                _raise_provider_failure(cleanup)
                raise
            _raise_provider_failure(exc)
            raise
        self._stack = stack
        _log.info("%s", settings_summary(self.settings))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None
        assert self._tg is not None
        self.orders.stop_taking()  # no new orders once stopping; those in flight finish
        with anyio.move_on_after(self._shutdown_timeout, shield=True):
            self._providers_scope.cancel()
            await self._providers_done.wait()
            self.dispatcher.flush_all()
            for lane in self.dispatcher.lanes.values():
                lane.close()
            await self._consumers_done.wait()
            self.dispatcher_metrics.export()
        # Submissions in flight are finished or resolved by query before the journal closes.
        with anyio.move_on_after(self._shutdown_timeout, shield=True):
            await self.orders.drain(self._shutdown_timeout)
        self._tg.cancel_scope.cancel()
        self.control_bus.close()
        try:
            return await stack.__aexit__(exc_type, exc, tb)
        except BaseException as error:
            _raise_provider_failure(error)
            raise

    async def _run_providers(self, *, task_status: TaskStatus[None]) -> None:
        try:
            with self._providers_scope:
                async with anyio.create_task_group() as tg:
                    for sup in self.providers.values():
                        tg.start_soon(sup.run)
                    await self._wait_required()
                    task_status.started()
        finally:
            self._providers_done.set()

    async def _wait_required(self) -> None:
        """Wait for the required providers to run, at most ``required_timeout_s``."""
        required = [sup for sup in self.providers.values() if sup.required]
        with anyio.move_on_after(self._required_timeout):
            for sup in required:
                await sup.wait_running()
                await self.orders.wait_ready(sup.name)  # its order adapter too, if any
        missing = [
            sup
            for sup in required
            if sup.current is None or self.orders.not_running(sup.name) is not None
        ]
        if missing:
            detail = "; ".join(
                f"{sup.name!r} ("
                + (
                    f"last error: {sup.last_error or 'still connecting'}"
                    if sup.current is None
                    else str(self.orders.not_running(sup.name))
                )
                + ")"
                for sup in missing
            )
            raise ProviderFailedError(
                f"required provider(s) not running within {self._required_timeout:g} s "
                f"(gateway.required_timeout_s): {detail}. The gateway stops; fix the venue's "
                "connection or remove it from gateway.required_providers.",
                provider=missing[0].name,
            )

    async def _run_consumer(
        self, name: str, consumer: Consumer, *, task_status: TaskStatus[None]
    ) -> None:
        try:
            await run_consumer(
                consumer,
                self.consumer_contexts[name],
                self.dispatcher.lane(name),
                telemetry=self.telemetry,
                stats=self.consumer_stats[name],
                task_status=task_status,
            )
        finally:
            consumer_stopped(name)
            self._consumers_left -= 1
            if self._consumers_left <= 0:
                self._consumers_done.set()

    def export_metrics(self) -> None:
        """Publish the dispatcher's counters and the trading switches now (the flush tick
        does it about once a second)."""
        self.dispatcher_metrics.export()
        self.gateway_metrics.export()

    async def _flush_tick(self) -> None:
        every = max(1, round(1.0 / self.flush_s))  # metrics about once a second
        ticks = 0
        while True:
            await anyio.sleep(self.flush_s)
            self.dispatcher.flush()
            self.merge_stage.tick()
            ticks += 1
            if ticks % every == 0:
                self.export_metrics()
                self.merge_stage.export()


async def _watch_signals(
    gateway: Gateway, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            _log.info("received %s: shutting down", signal.Signals(signum).name)
            gateway.stop()
            return


async def run_gateway(
    settings: Any,
    registries: Registries,
    *,
    duration: float | None = None,
    started: Callable[[Gateway], None] | None = None,
    **options: Any,
) -> int:
    """Run a gateway until SIGINT/SIGTERM or ``duration`` seconds; return the exit code.

    0 after a clean stop; 1 when a required provider failed (the error is logged and
    printed); 2 when ``[metrics]`` is enabled and its port cannot be served, or the order
    journal cannot be opened or is corrupt (one line naming the file, no traceback).
    ``options`` go to :class:`Gateway`; ``started`` is called once it runs. With
    ``[metrics] enabled`` the Prometheus exporter serves the gateway's registry on
    ``host:port`` for the whole run.
    """
    exporter: MetricsExporter | None = None
    if settings.metrics.enabled:
        metrics = options.setdefault("metrics", Metrics())
        try:
            exporter = MetricsExporter(metrics, settings.metrics.host, settings.metrics.port)
            exporter.start()
        except OSError as exc:
            where = f"{settings.metrics.host}:{settings.metrics.port}"
            print(
                f"tradegw: cannot serve metrics on {where} ({exc}); set [metrics] port "
                "to a free port or enabled = false",
                file=sys.stderr,
            )
            return 2
        _log.info("metrics on http://%s:%s/metrics", exporter.host, exporter.port)
    try:
        async with (
            Gateway(settings, registries, **options) as gateway,
            anyio.create_task_group() as tg,
        ):
            await tg.start(_watch_signals, gateway)
            if exporter is not None:
                gateway.metrics_url = f"http://{exporter.host}:{exporter.port}/metrics"
            if started is not None:
                started(gateway)
            with anyio.move_on_after(duration):
                await gateway.stopped.wait()
            tg.cancel_scope.cancel()
    except ProviderFailedError as exc:
        _log.error("%s", exc)
        print(f"tradegw: {exc}", file=sys.stderr)
        return 1
    except JournalError as exc:
        print(f"tradegw: {exc}", file=sys.stderr)
        return 2
    finally:
        if exporter is not None:
            exporter.close()
    return 0

"""What the gateway hands a provider or an order adapter (``contracts.ProviderContext``)."""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

from tradegw_core.clock import Clock
from tradegw_core.contracts import BookStage, BookStageFactory, EventSink, ResyncReason, Telemetry
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.dispatcher.ordering import OrderingMode
from tradegw_core.errors import ConfigError
from tradegw_core.observability.rejects import FrameRejects
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.schema.events import EventType

__all__ = [
    "BookStageParts",
    "GatewayOrderAdapterContext",
    "GatewayProviderContext",
    "MissingBookStage",
    "make_book_stages",
    "process_epoch",
    "section",
]


def process_epoch() -> str:
    """A token that no other tradegw process had: wall-clock ns and pid, in hex.

    It repeats only if the wall clock is set back past an earlier start *and* that start
    had the same pid.
    """
    return f"{time.time_ns():x}{os.getpid():x}"


def section(settings: Any, group: str, name: str) -> Any:
    """``settings.<group>.<name>`` (plugin section), or None when absent."""
    node = getattr(settings, group, None)
    if node is None:
        return None
    if isinstance(node, dict):
        return node.get(name)
    return getattr(node, name.replace("-", "_"), None)


class MissingBookStage:
    """``ProviderContext.book_stage`` when this build has no book stage module."""

    def __call__(self, *args: Any, **kwargs: Any) -> BookStage:
        """Refuse with a clear error."""
        raise ConfigError("the book stage (tradegw_core.book.stage) is missing in this build")


def make_book_stages(provider_id: str, emit: EventSink, ctx_parts: BookStageParts) -> Any:
    """The per-provider ``BookStages`` service, or None when the module is absent.

    Imported lazily: the book stage is optional for providers that keep no book.
    """
    try:
        module = importlib.import_module("tradegw_core.book.stage")
    except ImportError:
        return None
    book = ctx_parts.book
    stage_settings = None
    if book is not None:
        stage_settings = module.BookStageSettings(
            refresh_min_s=book.refresh_min_s,
            refresh_max_s=book.refresh_max_s,
            stale_after_s=book.stale_after_s,
        )
    return module.BookStages(
        provider_id,
        sink=emit,
        telemetry=ctx_parts.telemetry,
        clock=ctx_parts.clock,
        settings=stage_settings,
    )


class BookStageParts:
    """What :func:`make_book_stages` needs from the gateway."""

    def __init__(self, *, clock: Clock, telemetry: Telemetry, book: Any) -> None:
        self.clock = clock
        self.telemetry = telemetry
        self.book = book


class _VenueScopedContext:
    """What both contexts share: the provider's name, settings section, clock, telemetry.

    And the rejected-frame accounting (``reject_frame``, ``rejects``): one
    :class:`FrameRejects` per context, counting into ``metrics`` when given.
    """

    def __init__(
        self,
        provider_id: str,
        settings: Any,
        *,
        clock: Clock,
        telemetry: Telemetry,
        metrics: Any = None,
    ) -> None:
        self._provider_id = provider_id
        self._settings = settings
        self._clock = clock
        self._telemetry = telemetry
        self.rejects = FrameRejects(
            provider_id, metrics=metrics, now_ns=clock.monotonic_ns, resync=self._resync_book
        )
        """Rejected frames of this provider (``counts`` by reason)."""
        self.reject_frame = self.rejects.reject
        """``contracts.VenueContext.reject_frame`` (a bound method: no extra call frame)."""

    def _resync_book(self, symbol: str, detail: str) -> None:
        """Resync ``symbol``'s book after a rejected frame (no book here: nothing to do)."""

    @property
    def provider_id(self) -> str:
        """The provider's registered name."""
        return self._provider_id

    @property
    def settings(self) -> Any:
        """The provider's settings section (or None)."""
        return self._settings

    @property
    def clock(self) -> Clock:
        """The gateway clock."""
        return self._clock

    @property
    def telemetry(self) -> Telemetry:
        """The ops-only telemetry bus."""
        return self._telemetry


class GatewayProviderContext(_VenueScopedContext):
    """The gateway's implementation of ``contracts.ProviderContext`` for one provider.

    Besides the contract: :meth:`set_ordering_mode` declares how a stream type's seqs
    advance (default monotonic), :meth:`reset_ordering` forgets ordering state after a
    reconnect whose seqs restart. :attr:`run_epoch` changes with every provider instance
    (:meth:`new_run`, called by the supervisor before each build).
    """

    def __init__(
        self,
        provider_id: str,
        settings: Any,
        *,
        clock: Clock,
        telemetry: Telemetry,
        metrics: Any,
        orchestrator: Orchestrator,
        dispatcher: Dispatcher,
        book_stage: BookStageFactory | None = None,
        epoch: str | None = None,
    ) -> None:
        self.book_stage: BookStageFactory = (
            book_stage if book_stage is not None else MissingBookStage()
        )
        super().__init__(provider_id, settings, clock=clock, telemetry=telemetry, metrics=metrics)
        self._metrics = metrics
        self._dispatcher = dispatcher
        # The hot path: a bound method, no extra frame per event.
        self.emit = orchestrator.emit
        self._process_epoch = epoch if epoch is not None else process_epoch()
        self._runs = 0
        self.run_epoch = ""
        """Never the same for two provider instances, in this process or any other; part
        of event ids built from connection-local counters (``contracts.ProviderContext``)."""
        self.new_run()

    def _resync_book(self, symbol: str, detail: str) -> None:
        """Resync ``symbol``'s book when this provider serves it."""
        resync = getattr(self.book_stage, "resync", None)  # absent: MissingBookStage
        if resync is not None:
            resync(symbol, ResyncReason.REJECTED, detail)

    def new_run(self) -> None:
        """A new provider instance is about to be built: take a fresh :attr:`run_epoch`."""
        self._runs += 1
        self.run_epoch = f"{self._process_epoch}.{self._runs}"

    @property
    def metrics(self) -> Any:
        """The gateway's metrics facade."""
        return self._metrics

    def set_ordering_mode(self, type_: EventType, mode: OrderingMode) -> None:
        """Declare whether this provider's ``type_`` seqs are contiguous or monotonic."""
        self._dispatcher.set_ordering_mode(self._provider_id, type_, mode)

    def reset_ordering(self, symbol: str | None = None) -> None:
        """Forget ordering state (e.g. a new connection whose seqs start over)."""
        self._dispatcher.reset_ordering(self._provider_id, symbol)


class GatewayOrderAdapterContext(_VenueScopedContext):
    """The gateway's implementation of ``contracts_orders.OrderAdapterContext``."""

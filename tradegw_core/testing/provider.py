"""Test a provider without a gateway: a recording ``ProviderContext`` and a runner.

::

    ctx = RecordingProviderContext("kraken", KrakenSettings(...))
    async with ctx.running(KrakenProvider(ctx)) as provider:
        await provider.subscribe([StreamSpec(BTC, EventType.TRADE)])
        await ctx.events.until(lambda: bool(ctx.events.of(Trade)))

Events and telemetry land in one :class:`~tradegw_core.testing.recorders.EventRecorder`
(``ctx.events``) unless a separate telemetry recorder is given; the book stage is the
core's real :class:`~tradegw_core.book.stage.BookStages`, so a provider's assembler is
exercised exactly as in the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.contracts import Provider, ResyncReason, Telemetry
from tradegw_core.observability.rejects import FrameRejects
from tradegw_core.schema.events import Event
from tradegw_core.testing.recorders import EventRecorder

if TYPE_CHECKING:
    from tradegw_core.book.stage import BookStages, BookStageSettings
    from tradegw_core.dispatcher import Dispatcher
    from tradegw_core.orchestrator.context import GatewayProviderContext

__all__ = ["RecordingProviderContext"]

P = TypeVar("P", bound=Provider)


class RecordingProviderContext:
    """A ``contracts.ProviderContext`` whose events go to a recorder, not an orchestrator.

    ``events`` records every emitted event (and the telemetry, when ``telemetry`` is not
    given); ``book_stage`` is a real ``BookStages`` for ``provider_id`` built with
    ``book_settings``; ``clock`` defaults to the system clock. ``reject_frame`` is the
    gateway's real accounting (:class:`FrameRejects`): ``rejects.counts`` holds the totals
    by reason, and a rejection naming a served symbol resyncs that book.
    """

    def __init__(
        self,
        provider_id: str,
        settings: Any,
        *,
        events: EventRecorder | None = None,
        telemetry: Telemetry | None = None,
        clock: Clock | None = None,
        book_settings: BookStageSettings | None = None,
        metrics: Any = None,
    ) -> None:
        from tradegw_core.book.stage import BookStages

        self.provider_id = provider_id
        self.settings = settings
        self.events = events if events is not None else EventRecorder()
        self.telemetry: Telemetry = telemetry if telemetry is not None else self.events
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.metrics = metrics
        self.run_epoch = f"test-{id(self):x}"
        """Unique per context (``contracts.ProviderContext.run_epoch``)."""
        self.book_stage: BookStages = BookStages(
            provider_id,
            sink=self.emit,
            telemetry=self.telemetry,
            clock=self.clock,
            settings=book_settings,
        )
        self.rejects = FrameRejects(
            provider_id, metrics=metrics, now_ns=self.clock.monotonic_ns, resync=self._resync
        )
        self.reject_frame = self.rejects.reject

    def _resync(self, symbol: str, detail: str) -> None:
        self.book_stage.resync(symbol, ResyncReason.REJECTED, detail)

    def emit(self, event: Event) -> None:
        """Record one event (what the orchestrator would receive)."""
        self.events(event)

    @asynccontextmanager
    async def running(self, provider: P) -> AsyncIterator[P]:
        """Run the book stage and ``provider`` (started like the gateway does) in the block.

        Both are cancelled when the block ends.
        """
        async with anyio.create_task_group() as tg:
            await tg.start(self.book_stage.run)
            await tg.start(provider.run)
            try:
                yield provider
            finally:
                tg.cancel_scope.cancel()


def dispatching_context(
    provider: str, settings: Any, *, consumer_id: str = "c"
) -> tuple[GatewayProviderContext, Dispatcher]:
    """The gateway's real provider context over a dispatcher with one consumer.

    What a provider emits goes through the real orchestrator and dispatcher (ordering
    modes the provider declares included) into ``consumer_id``'s lane; read it back with
    :func:`drain_lane`. The clock is a :class:`~tradegw_core.clock.FakeClock`.
    """
    from tradegw_core.clock import FakeClock
    from tradegw_core.dispatcher import Dispatcher
    from tradegw_core.observability.metrics import Metrics
    from tradegw_core.orchestrator.context import GatewayProviderContext
    from tradegw_core.orchestrator.orchestrator import Orchestrator
    from tradegw_core.testing.recorders import TelemetryRecorder

    clock = FakeClock()
    dispatcher = Dispatcher(clock=clock)
    dispatcher.add_consumer(consumer_id)
    ctx = GatewayProviderContext(
        provider,
        settings,
        clock=clock,
        telemetry=TelemetryRecorder(),
        metrics=Metrics(),
        orchestrator=Orchestrator(dispatcher),
        dispatcher=dispatcher,
    )
    return ctx, dispatcher


def drain_lane(dispatcher: Dispatcher, consumer_id: str = "c") -> list[Event]:
    """Everything queued for ``consumer_id``, in delivery order (the lane is emptied)."""
    lane = dispatcher.lane(consumer_id)
    out: list[Event] = []
    while (item := lane.pop_nowait()) is not None:
        out.append(item)
    return out

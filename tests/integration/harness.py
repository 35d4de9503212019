"""The end-to-end harness: a Gateway with the wsfeed provider and recording consumers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio

from tradegw_core.config.models import compose_settings_model
from tradegw_core.contracts import Provider, ProviderContext
from tradegw_core.gateway import Gateway
from tradegw_core.net.backoff import Backoff
from tradegw_core.orchestrator.supervisor import Backoff as RestartBackoff
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    Trade,
)

from .wsfeed import WsFeedProvider, WsFeedSettings
from .wsvenue import LoopbackVenue

__all__ = ["Harness", "Recorder", "RecordingBackoff", "book_of", "running", "venue_book"]


class Recorder:
    """A consumer that records its events and lets the test wait for a condition."""

    def __init__(self, settings: Any = None) -> None:
        self.ctx: Any = None
        self.events: list[Event] = []
        self.stopped = False
        self._changed = anyio.Event()

    async def on_start(self, ctx: Any) -> None:
        """Keep the context (the tests subscribe through it)."""
        self.ctx = ctx

    async def on_event(self, event: Event) -> None:
        """Record one event."""
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    async def on_exec_report(self, report: ExecReport) -> None:
        """Not used here."""

    async def on_stop(self) -> None:
        """Remember the stop."""
        self.stopped = True

    async def wait_for(self, cond: Callable[[Recorder], bool]) -> None:
        """Wait until ``cond(self)`` holds."""
        while not cond(self):
            await self._changed.wait()

    def trades(self, symbol: str | None = None) -> list[int | None]:
        """Seqs of the trades received (of ``symbol`` only, when given)."""
        return [
            e.seq_provider
            for e in self.events
            if isinstance(e, Trade) and (symbol is None or e.symbol == symbol)
        ]

    def book_events(self) -> list[BookSnapshot | BookUpdate]:
        """Book snapshots and updates, in arrival order."""
        return [e for e in self.events if isinstance(e, BookSnapshot | BookUpdate)]

    def snapshots(self) -> list[BookSnapshot]:
        """Book snapshots, in arrival order."""
        return [e for e in self.events if isinstance(e, BookSnapshot)]


class RecordingBackoff(Backoff):
    """A Backoff that remembers every delay it handed out."""

    def __init__(self) -> None:
        super().__init__(base_s=0.01, cap_s=0.05)
        self.delays: list[float] = []

    def failure(self) -> float:
        """Record the delay of one more failure."""
        delay = super().failure()
        self.delays.append(delay)
        return delay


@dataclass
class Harness:
    """A running gateway with the wsfeed provider and recording consumers."""

    gw: Gateway
    consumers: dict[str, Recorder]
    providers: list[WsFeedProvider] = field(default_factory=list)

    @property
    def provider(self) -> WsFeedProvider:
        """The running provider instance."""
        return self.providers[-1]

    async def subscribe(self, consumer: str, symbols: list[str], types: list[EventType]) -> Any:
        """Subscribe ``consumer`` through its own context (the control bus)."""
        return await self.gw.consumer_contexts[consumer].subscribe(["wsfeed"], symbols, types)

    async def unsubscribe(self, consumer: str, symbols: list[str], types: list[EventType]) -> Any:
        """Unsubscribe ``consumer`` through its own context."""
        return await self.gw.consumer_contexts[consumer].unsubscribe(["wsfeed"], symbols, types)

    def telemetry(self, name: str) -> list[dict[str, str]]:
        """Labels of every recent telemetry event called ``name``."""
        return [dict(e.labels) for e in self.gw.telemetry.recent(name=name)]


@asynccontextmanager
async def running(
    venue: LoopbackVenue,
    *,
    consumers: tuple[str, ...] = ("rec",),
    backoff: Backoff | None = None,
    **provider: Any,
) -> AsyncIterator[Harness]:
    """A Gateway built like the CLI builds it: composed settings and frozen registries."""
    made: dict[str, Recorder] = {}
    instances: list[WsFeedProvider] = []

    def provider_factory(ctx: ProviderContext) -> Provider:
        instances.append(WsFeedProvider(ctx, backoff=backoff))
        return instances[-1]

    regs = Registries()
    regs.providers.add("wsfeed", provider_factory, plugin_id="test")
    for name in consumers:

        def consumer_factory(settings: Any, name: str = name) -> Recorder:
            made[name] = Recorder(settings)
            return made[name]

        regs.consumers.add(name, consumer_factory, plugin_id="test")
    regs.freeze()
    model = compose_settings_model([("providers.wsfeed", WsFeedSettings)])
    settings = model.model_validate(
        {
            "gateway": {"providers": ["wsfeed"], "consumers": list(consumers)},
            "providers": {"wsfeed": {"url": venue.url, **provider}},
        }
    )
    restart = RestartBackoff(base_s=0.01, cap_s=0.05)
    async with Gateway(settings, regs, restart_backoff=restart, shutdown_timeout=2.0) as gw:
        with anyio.fail_after(5):  # start-up does not wait for providers; these tests do
            await gw.providers["wsfeed"].wait_running()
        yield Harness(gw, made, instances)


def book_of(events: list[BookSnapshot | BookUpdate]) -> tuple[dict[Decimal, Decimal], ...]:
    """The book a consumer rebuilds from its snapshots and updates."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for event in events:
        if isinstance(event, BookSnapshot):
            bids, asks = {}, {}
        for side, levels in ((bids, event.bids), (asks, event.asks)):
            for lv in levels:
                if lv.qty == 0:
                    side.pop(lv.price, None)
                else:
                    side[lv.price] = lv.qty
    return bids, asks


def venue_book(venue: LoopbackVenue, sym: str) -> tuple[dict[Decimal, Decimal], ...]:
    """The venue's own book of ``sym``."""
    book = venue.book(sym)
    return dict(book.bids), dict(book.asks)

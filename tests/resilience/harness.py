"""The resilience harness: real venue emulators on loopback, a real Gateway built from the
installed plugins, and recording consumers.

Nothing is faked: each provider and order adapter is the venue plugin found by its entry
point, talking WebSocket/HTTP to its emulator; the journal is a SQLite file in ``tmp_path``.
Waits are event-driven (:meth:`Recorder.until`), every wait is bounded by ``fail_after``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.config.loader import compose_from_registries
from tradegw_core.config.validation import validate_section
from tradegw_core.demo.runner import client_settings_for
from tradegw_core.gateway import Gateway
from tradegw_core.net.backoff import Backoff
from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType
from tradegw_core.sim.emulator import Emulator, EmulatorConfig
from tradegw_core.sim.faults import FaultPlan
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec
from tradegw_core.testing.recorders import RecordingConsumer

__all__ = [
    "BOOK",
    "SYMBOL",
    "VENUES",
    "Recorder",
    "apply_book_event",
    "book_of",
    "emulators",
    "gateway",
    "installed",
    "venue_book",
]

VENUES = ("binance", "coinbase", "kraken")
SYMBOL = "BTC-USDT"
BOOK = [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]
Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]


def installed() -> Registries:
    """Registries of every installed plugin (what the CLI loads), not frozen."""
    regs = Registries()
    load_plugins([i.id for i in list_installed() if not i.error], regs)
    return regs


def require(regs: Registries, venue: str, *, trading: bool = False) -> None:
    """Skip (saying why) when ``venue``'s plugin is not installed."""
    if venue not in regs.emulators or venue not in regs.providers:
        pytest.skip(f"tradegw-{venue} is not installed")
    if trading and venue not in regs.order_adapters:
        pytest.skip(f"tradegw-{venue} has no order adapter")


class Recorder(RecordingConsumer):
    """A recording consumer with a name; ``on_start_hook`` runs in ``on_start`` (e.g. to
    subscribe at once). Its :meth:`until` also re-checks on time, every 50 ms, for
    predicates about the venues (which no delivery wakes)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.on_start_hook: Callable[[Any], Any] | None = None

    async def on_start(self, ctx: Any) -> None:
        """Keep the context; run the test's start hook."""
        await super().on_start(ctx)
        if self.on_start_hook is not None:
            await self.on_start_hook(ctx)

    async def until(self, predicate: Callable[[], bool], within_s: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, at most ``within_s``."""
        with anyio.fail_after(within_s):
            while not predicate():
                with anyio.move_on_after(0.05):
                    await super().until(predicate, within_s)

    def book_events(self, provider: str, symbol: str = SYMBOL) -> list[BookSnapshot | BookUpdate]:
        """Book snapshots and updates of one stream, in arrival order."""
        return [
            e
            for e in self.events
            if isinstance(e, BookSnapshot | BookUpdate)
            and e.provider == provider
            and e.symbol == symbol
        ]

    def states(self, client_order_id: str) -> list[str]:
        """States reported for one order, in arrival order."""
        return [r.state.value for r in self.reports if r.client_order_id == client_order_id]


def apply_book_event(book: Book, event: BookSnapshot | BookUpdate) -> Book:
    """``book`` after ``event`` (a snapshot replaces it; qty 0 removes a level)."""
    bids, asks = ({}, {}) if isinstance(event, BookSnapshot) else book
    for side, levels in ((bids, event.bids), (asks, event.asks)):
        for lv in levels:
            if lv.qty == 0:
                side.pop(lv.price, None)
            else:
                side[lv.price] = lv.qty
    return bids, asks


def book_of(events: Iterable[BookSnapshot | BookUpdate]) -> Book:
    """The book a consumer rebuilds from its snapshots and updates."""
    book: Book = ({}, {})
    for event in events:
        book = apply_book_event(book, event)
    return book


def venue_book(emu: Emulator, symbol: str = SYMBOL, depth: int = 10) -> Book:
    """The emulator's own book, top ``depth`` levels per side."""
    snap = emu.sim.book(emu.venue, symbol, depth=depth)
    return dict(snap.bids), dict(snap.asks)


def top(book: Book, depth: int = 10) -> Book:
    """The best ``depth`` levels of each side of ``book``."""
    bids, asks = book
    best_bids = sorted(bids, reverse=True)[:depth]
    best_asks = sorted(asks)[:depth]
    return {p: bids[p] for p in best_bids}, {p: asks[p] for p in best_asks}


@contextlib.asynccontextmanager
async def emulators(
    regs: Registries,
    venues: Iterable[str],
    *,
    symbols: tuple[str, ...] = (SYMBOL,),
    rate: float = 20.0,
    seed: int = 5,
    faults: Mapping[str, FaultPlan] | None = None,
    run_market: bool = True,
) -> AsyncIterator[dict[str, Emulator]]:
    """Every venue's emulator on one shared market simulator (stepping at ``rate``/s)."""
    sim = MarketSimulator([default_symbol_spec(s) for s in symbols], seed=seed, rate=rate)
    async with anyio.create_task_group() as tg, contextlib.AsyncExitStack() as stack:
        emus: dict[str, Emulator] = {}
        for venue in venues:
            config = EmulatorConfig(
                venue=venue,
                symbols=symbols,
                seed=seed,
                simulator=sim,
                faults=(faults or {}).get(venue),
            )
            emus[venue] = await stack.enter_async_context(regs.emulators.get(venue)(config))
        if run_market:
            tg.start_soon(sim.run)
        yield emus
        tg.cancel_scope.cancel()


def settings_for(
    regs: Registries,
    provider_settings: Mapping[str, Mapping[str, Any] | None],
    consumers: Iterable[str],
    journal: Path,
    **sections: Any,
) -> Any:
    """Validated gateway settings: these providers and consumers, the journal at ``journal``."""
    data: dict[str, Any] = {
        "gateway": {"providers": list(provider_settings), "consumers": list(consumers)},
        "metrics": {"enabled": False},
        "orders": {"journal_path": str(journal), "risk_checks": []},
        "providers": {k: dict(v) for k, v in provider_settings.items() if v is not None},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return validate_section(compose_from_registries(regs), data)


def with_recorders(regs: Registries, recorders: Iterable[Recorder]) -> Registries:
    """Register each recorder as a consumer (by its name) and freeze."""
    for rec in recorders:
        regs.consumers.add(rec.name, lambda _settings, r=rec: r, plugin_id="resilience-test")
    regs.freeze()
    return regs


FAST_RESTART = Backoff(base_s=0.05, cap_s=0.2)


@contextlib.asynccontextmanager
async def gateway(
    regs: Registries,
    emus: Mapping[str, Emulator | dict[str, Any] | None],
    recorders: Iterable[Recorder],
    journal: Path,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    **sections: Any,
) -> AsyncIterator[Gateway]:
    """A running Gateway on ``emus`` (an emulator, the provider settings of a venue not
    running yet, or None: no settings section) with ``recorders`` as its consumers;
    ``overrides`` per provider."""
    recs = list(recorders)
    extra = overrides or {}
    providers = {
        v: None
        if e is None
        else {**(e if isinstance(e, dict) else client_settings_for(e)), **extra.get(v, {})}
        for v, e in emus.items()
    }
    settings = settings_for(regs, providers, [r.name for r in recs], journal, **sections)
    regs = with_recorders(regs, recs)
    async with Gateway(settings, regs, restart_backoff=FAST_RESTART, shutdown_timeout=3.0) as gw:
        yield gw

"""Two consumers join the same book stream at different times, on each venue's emulator:
the second one is resynced from the provider's assembled book (the venue is asked once), and
both end with books equal to the provider's assembled book."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import pytest

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.config.loader import compose_from_registries
from tradegw_core.config.validation import validate_section
from tradegw_core.consumer.book import apply_book_event
from tradegw_core.demo.runner import client_settings_for, with_consumer
from tradegw_core.dispatcher import AssembledBooks
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.discovery import list_installed, load_plugins
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Event
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

SYMBOL = "BTC-USDT"
BOOK_TYPES = ("BookSnapshot", "BookUpdate")


class BookKeeper:
    """A strategy that keeps the book from its snapshots and updates."""

    def __init__(self) -> None:
        self.ctx: Any = None
        self.book = OrderBook()
        self.snapshots = 0
        self.updates = 0
        self.before_snapshot = 0
        self.changed = anyio.Event()

    async def until(self, cond: Callable[[], bool]) -> None:
        """Wait until ``cond()`` holds, re-checked after each event this keeper takes."""
        while not cond():
            await self.changed.wait()

    async def on_start(self, ctx: Any) -> None:
        self.ctx = ctx

    async def on_event(self, event: Event) -> None:
        self.changed.set()
        self.changed = anyio.Event()
        if isinstance(event, BookUpdate) and not self.snapshots:
            self.before_snapshot += 1
            return
        if isinstance(event, BookSnapshot | BookUpdate):
            self.snapshots += isinstance(event, BookSnapshot)
            self.updates += isinstance(event, BookUpdate)
            apply_book_event(self.book, event)

    async def on_exec_report(self, report: Any) -> None:
        pass

    async def on_stop(self) -> None:
        pass


def registries() -> Registries:
    regs = Registries()
    load_plugins([i.id for i in list_installed() if not i.error], regs)
    regs.freeze()
    return regs


def top(side: dict[Decimal, Decimal], n: int, *, reverse: bool) -> list[tuple[Decimal, Decimal]]:
    return [(p, side[p]) for p in sorted(side, reverse=reverse)[:n]]


def in_step(gw: Gateway, keepers: dict[str, BookKeeper], venue: str) -> bool:
    """True when every keeper has what the dispatcher released and matches the assembled
    book (levels beyond the venue's depth aside)."""
    for name, keeper in keepers.items():
        lane = gw.dispatcher.lane(name)
        if lane.depth or not all(g.idle for g in lane.gates.values()) or not keeper.snapshots:
            return False
    stage = gw.book_stages[venue].get(SYMBOL)
    if stage is None or not stage.live:
        return False
    book = stage.assembler.book
    bids = [(lv.price, lv.qty) for lv in book.top_bids()]
    asks = [(lv.price, lv.qty) for lv in book.top_asks()]
    return all(
        top(k.book.bids, len(bids), reverse=True) == bids
        and top(k.book.asks, len(asks), reverse=False) == asks
        for k in keepers.values()
    )


@pytest.mark.anyio
@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken"])
async def test_a_late_joiner_gets_the_assembled_book_on_every_venue(venue: str) -> None:
    regs = registries()
    if venue not in regs.emulators or venue not in regs.providers:
        pytest.skip(f"tradegw-{venue} is not installed")
    sim = MarketSimulator([default_symbol_spec(SYMBOL)], seed=5, rate=40.0)
    config = EmulatorConfig(venue=venue, symbols=(SYMBOL,), seed=5, rate=40.0, simulator=sim)
    keepers = {"early": BookKeeper(), "late": BookKeeper()}
    for name, keeper in keepers.items():
        regs = with_consumer(regs, name, keeper)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            emu = await tg.start(regs.emulators.get(venue)(config).serve)
            tg.start_soon(sim.run)
            data = {
                "gateway": {"providers": [venue], "consumers": list(keepers)},
                "metrics": {"enabled": False},
                "providers": {venue: client_settings_for(emu)},
            }
            settings = validate_section(compose_from_registries(regs), data)
            async with Gateway(settings, regs) as gw:
                early, late = keepers["early"], keepers["late"]
                assert (await early.ctx.subscribe([venue], [SYMBOL], BOOK_TYPES)).ok
                await early.until(lambda: early.updates >= 5)
                stage = gw.book_stages[venue].get(SYMBOL)
                assert (await late.ctx.subscribe([venue], [SYMBOL], BOOK_TYPES)).ok
                joined_at = stage.stats.snapshots
                await late.until(lambda: late.updates >= 5 and in_step(gw, keepers, venue))
                books = gw.dispatcher.books
                assert isinstance(books, AssembledBooks)
                assert books.made == 1  # the late joiner's snapshot: from the assembled book
                assert late.before_snapshot == 0  # no update before it
                # The early consumer saw only the venue's own (re)syncs, not the late one's.
                venue_snapshots = stage.stats.snapshots
                assert early.snapshots == venue_snapshots, (early.snapshots, venue_snapshots)
                assert late.snapshots == 1 + venue_snapshots - joined_at
            tg.cancel_scope.cancel()

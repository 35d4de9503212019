"""Soak (issue 19): all three venue emulators under a random fault plan, the market maker
trading, providers and order adapters restarted at random, for ``TRADEGW_SOAK_S`` seconds
(12 by default, to keep the suite fast; longer locally, e.g. ``TRADEGW_SOAK_S=600``).

At the end the process is up, every consumer's books equal the emulators', no client
order id was placed twice on the venue, every order the venue finished has its final
report at the market maker exactly once, and RSS growth after warm-up is printed and
bounded.
"""

from __future__ import annotations

import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.schema.events import BookSnapshot, BookUpdate, Event, ExecReport, ExecState
from tradegw_core.sim.emulator import Emulator
from tradegw_core.sim.faults import Close, Drop, Duplicate, FaultPlan, Reorder
from tradegw_core.sim.matching import ExecEvent
from tradegw_core.sim.orders import OrderState

from .harness import (
    BOOK,
    SYMBOL,
    VENUES,
    Recorder,
    apply_book_event,
    emulators,
    gateway,
    installed,
    require,
    top,
    venue_book,
)

SOAK_S = float(os.environ.get("TRADEGW_SOAK_S", "12"))
WARM_UP_S = min(8.0, SOAK_S / 3)
RSS_GROWTH_BOUND_MB = float(os.environ.get("TRADEGW_SOAK_RSS_MB", "40"))
MM_VENUE = "binance"
FINAL = {
    OrderState.FILLED: ExecState.FILLED,
    OrderState.CANCELED: ExecState.CANCELLED,
    OrderState.REJECTED: ExecState.REJECTED,
    OrderState.EXPIRED: ExecState.EXPIRED,
}

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(SOAK_S + 60)]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def market_data(frame: str | bytes) -> bool:
    """A public market-data frame (faults never touch the user streams' reports)."""
    text = frame if isinstance(frame, str) else frame.decode(errors="replace")
    return any(k in text for k in ('"depthUpdate"', '"l2_data"', '"book"', '"trade"', "aggTrade"))


def random_plan(rng: random.Random) -> FaultPlan:
    plan = FaultPlan()
    hit = lambda p: lambda conn, frame: market_data(frame) and rng.random() < p  # noqa: E731
    plan.ws(Drop(), match=hit(0.01), count=None)
    plan.ws(Duplicate(), match=hit(0.01), count=None)
    plan.ws(Reorder(), match=hit(0.005), count=None)
    plan.ws(Close(), match=hit(0.0005), count=None)
    return plan


class BookKeeper(Recorder):
    """A consumer keeping each venue's book (rebuilt from its events), not the events: a
    soak must not measure its own recorder growing."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.books: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self.received = 0

    async def on_event(self, event: Event) -> None:
        if isinstance(event, BookSnapshot | BookUpdate):
            self.received += 1
            book = self.books.get(event.provider, ({}, {}))
            self.books[event.provider] = apply_book_event(book, event)
        self.poke()


class VenueOrders:
    """Placements and last state per client order id of one account, from the engine."""

    def __init__(self, emu: Emulator, account: str) -> None:
        self.placed: dict[str, int] = {}
        self.last: dict[str, ExecEvent] = {}
        self._account = account
        emu.engines[SYMBOL].subscribe(self._on)

    def _on(self, event: ExecEvent) -> None:
        if event.account != self._account:
            return
        if event.state is OrderState.NEW:
            self.placed[event.client_order_id] = self.placed.get(event.client_order_id, 0) + 1
        self.last[event.client_order_id] = event


async def chaos(gw: Any, rng: random.Random, stop: anyio.Event) -> None:
    """Restart a random provider or order adapter every 2-4 s."""
    while not stop.is_set():
        with anyio.move_on_after(rng.uniform(2.0, 4.0)):
            await stop.wait()
        if stop.is_set():
            return
        venue = rng.choice(VENUES)
        if rng.random() < 0.5:
            gw.providers[venue].restart("soak: random provider restart")
        elif venue in gw.orders.supervisors:
            gw.orders.supervisors[venue].restart("soak: random user stream restart")


async def test_soak_all_venues_random_faults_market_maker(tmp_path: Path) -> None:
    regs = installed()
    for venue in VENUES:
        require(regs, venue)
    require(regs, MM_VENUE, trading=True)
    if "market_maker" not in regs.consumers:
        pytest.skip("consumer-examples is not installed: no market maker")
    from tradegw_consumer_examples.market_maker import MarketMakerConsumer, MarketMakerSettings

    finals: dict[str, list[ExecReport]] = {}  # final reports per order (not every report)
    counts = {"reports": 0}

    class RecordingMarketMaker(MarketMakerConsumer):
        async def on_exec_report(self, report: ExecReport) -> None:
            counts["reports"] += 1
            if report.state.is_final:
                finals.setdefault(report.client_order_id, []).append(report)
            await super().on_exec_report(report)

    rng = random.Random(19)
    plans = {venue: random_plan(rng) for venue in VENUES}
    books = BookKeeper("books")
    async with emulators(regs, VENUES, rate=10, faults=plans) as emus:
        spec = emus[MM_VENUE].sim.specs[SYMBOL]
        mm = RecordingMarketMaker(
            MarketMakerSettings(
                provider=MM_VENUE, symbol=SYMBOL, tick=spec.tick, pause_s=0.2,
                qty=max(spec.lot, (spec.min_notional * 2 / spec.price).quantize(spec.lot)),
                max_position=Decimal(1000),
            )
        )  # fmt: skip
        regs.consumers.add("soak_mm", lambda _settings: mm, plugin_id="resilience-test")
        venue_orders = VenueOrders(emus[MM_VENUE], emus[MM_VENUE].credentials[0].account)
        fast = {"kraken": {"reconnect_min_s": 0.0}}
        async with (
            gateway(
                regs, emus, [books], tmp_path / "journal.sqlite3", overrides=fast,
                gateway={"consumers": ["books", "soak_mm"], "required_providers": [MM_VENUE]},
            ) as gw,
            anyio.create_task_group() as tg,
        ):  # fmt: skip
            ack = await books.ctx.subscribe(list(VENUES), [SYMBOL], BOOK)
            assert ack.ok, ack.error
            stop = anyio.Event()
            tg.start_soon(chaos, gw, rng, stop)
            await anyio.sleep(WARM_UP_S)  # the soak's duration itself, not a wait for a result
            rss_warm = rss_mb()
            await anyio.sleep(SOAK_S - WARM_UP_S)
            rss_end = rss_mb()
            stop.set()
            for plan in plans.values():
                plan.clear()
            # Wind down: no more quotes, cancel what rests; every order ends final.
            await gw.request(
                {"kind": "set_trading_mode", "consumer_id": "soak_mm", "enabled": False}
            )
            for venue in VENUES:
                await gw.providers[venue].wait_running()
            await gw.orders.wait_ready(MM_VENUE)
            ctx = gw.consumer_contexts["soak_mm"]
            for _ in range(5):  # an order acknowledged while cancelling is cancelled next round
                await ctx.cancel_all()
                with anyio.move_on_after(2.0):
                    await books.until(lambda: not ctx.open_orders(), 2.0)
            assert not ctx.open_orders(), ctx.open_orders()
            await books.until(
                lambda: all(e.state in FINAL for e in venue_orders.last.values()), 10.0
            )
            await books.until(lambda: set(venue_orders.last) <= set(finals), 10.0)
            for venue in VENUES:
                await books.until(
                    lambda v=venue: top(books.books.get(v, ({}, {}))) == venue_book(emus[v]),
                    5.0,
                )
    growth = rss_end - rss_warm
    print(
        f"soak {SOAK_S:.0f} s: {len(venue_orders.placed)} orders, {counts['reports']} reports, "
        f"RSS {rss_warm:.1f} -> {rss_end:.1f} MB after warm-up ({growth:+.1f} MB)"
    )
    assert venue_orders.placed, "the market maker placed no order"
    assert all(n == 1 for n in venue_orders.placed.values()), "a client order id was placed twice"
    for cid, event in venue_orders.last.items():
        got = finals.get(cid, [])
        assert len(got) == 1, (cid, [r.state for r in got])
        assert got[0].state is FINAL[event.state], (cid, got[0].state, event.state)
        assert got[0].cum_qty == event.cum_qty, cid
    assert growth < RSS_GROWTH_BOUND_MB, f"RSS grew {growth:.1f} MB after warm-up"

"""``make bench`` section ``fairness``: one slow consumer must not cost the fast ones.

Design section 9. A bench venue (in memory, paced like a live feed) sends book updates and
trades for a few symbols through a real :class:`~tradegw_core.gateway.Gateway` to three
consumers on the same streams: two fast ones and one slow one that sleeps in its callback
(and has a small budget, so its trades queue and overflow to the DLQ while its book
updates are merged). The same feed runs once without the slow consumer as the baseline, in
the same process. It prints the fast consumers' p99 latency (frame receipt to callback) and
delivered rate against the baseline, and checks that the slow consumer's book equals the
venue's at the end and that every exec report sent to it arrived, in order.

Run: ``python -m tradegw_core.bench.fairness [--rate 4000] [--seconds 1.5] [--symbols 8]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio
from anyio.abc import TaskStatus

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.consumer.book import apply_book_event
from tradegw_core.contracts import ProviderContext, StreamSpec
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    ExecState,
    Level,
    Side,
    Trade,
)
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["main"]

Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]
_TYPES = ("BookSnapshot", "BookUpdate", "Trade")


class BenchVenue:
    """A ``contracts.Provider`` whose frames the bench feeds; it keeps the venue's books."""

    def __init__(self, ctx: ProviderContext, symbols: int, seed: int = 3) -> None:
        self.ctx = ctx
        self.rng = random.Random(seed)
        self.symbols = [Symbol(f"S{k}-USD") for k in range(symbols)]
        self.books: dict[str, Book] = {s: ({}, {}) for s in self.symbols}
        self.seq = dict.fromkeys(self.symbols, 0)
        self.trade_id = 0

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Ready at once; frames come through :meth:`frame`."""
        task_status.started()
        await anyio.sleep_forever()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """The bench symbols."""
        return {
            s: Instrument(
                provider="bench",
                symbol=s,
                venue_symbol=s.replace("-", ""),
                base=s.split("-")[0],
                quote="USD",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.001"),
            )
            for s in self.symbols
        }

    def supported_types(self) -> frozenset[EventType]:
        """Books and trades."""
        return frozenset({EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE, EventType.TRADE})

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Nothing to ask an in-memory venue."""

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Nothing to ask an in-memory venue."""

    def snapshots(self) -> None:
        """Every symbol's book as a BookSnapshot (the start of the feed)."""
        for s in self.symbols:
            bids, asks = self.books[s]
            self.ctx.emit(
                BookSnapshot(
                    event_id=f"bench:{s}:BookSnapshot:{self.seq[s]}",
                    provider="bench",
                    symbol=s,
                    venue_symbol=s.replace("-", ""),
                    seq_provider=self.seq[s],
                    ts_ingest=time.monotonic_ns(),
                    bids=tuple(Level(p, q) for p, q in bids.items()),
                    asks=tuple(Level(p, q) for p, q in asks.items()),
                )
            )

    def frame(self) -> None:
        """One venue message: two book updates for every trade, on a random symbol."""
        rng, s = self.rng, self.rng.choice(self.symbols)
        ts = time.monotonic_ns()
        if rng.random() < 0.66:
            seq = self.seq[s] = self.seq[s] + 1
            bids, asks = self.books[s]
            changes: list[tuple[Level, ...]] = []
            for side, base, sign in ((bids, 100, -1), (asks, 101, 1)):
                levels = []
                for _ in range(rng.randint(1, 3)):
                    price = Decimal(base + sign * rng.randrange(20)) / 1
                    qty = Decimal(rng.randrange(0, 5))
                    if qty:
                        side[price] = qty
                    else:
                        side.pop(price, None)
                    levels.append(Level(price, qty))
                changes.append(tuple(levels))
            event: Event = BookUpdate(
                event_id=f"bench:{s}:BookUpdate:{seq}",
                provider="bench",
                symbol=s,
                venue_symbol=s.replace("-", ""),
                seq_provider=seq,
                ts_ingest=ts,
                bids=changes[0],
                asks=changes[1],
                first_seq=seq,
                last_seq=seq,
                prev_seq=seq - 1,
            )
        else:
            self.trade_id += 1
            event = Trade(
                event_id=f"bench:{s}:Trade:{self.trade_id}",
                provider="bench",
                symbol=s,
                venue_symbol=s.replace("-", ""),
                seq_provider=self.trade_id,
                ts_ingest=ts,
                trade_id=str(self.trade_id),
                price=Decimal(100),
                qty=Decimal(1),
                side=Side.BUY,
            )
        self.ctx.emit(event)


class BenchConsumer:
    """Subscribes to every bench stream; records latency, its books and exec reports."""

    def __init__(self, symbols: int, *, sleep_s: float = 0.0) -> None:
        self.symbols = [f"S{k}-USD" for k in range(symbols)]
        self.sleep_s = sleep_s
        self.latencies: list[int] = []
        self.delivered = 0
        self.books = {s: OrderBook() for s in self.symbols}
        self.reports: list[int] = []
        self.changed = anyio.Event()

    def _poke(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def on_start(self, ctx: Any) -> None:
        """Subscribe to books and trades of every symbol."""
        ack = await ctx.subscribe(["bench"], self.symbols, _TYPES)
        if not ack.ok:
            raise RuntimeError(ack.error)

    async def on_events(self, events: Sequence[Event]) -> None:
        """Measure, keep the books; the slow one then sleeps ``sleep_s`` per event."""
        now = time.monotonic_ns()
        self._poke()
        self.delivered += len(events)
        for event in events:
            self.latencies.append(now - event.ts_ingest)
            if isinstance(event, BookSnapshot | BookUpdate):
                apply_book_event(self.books[event.symbol], event)
        if self.sleep_s:
            await anyio.sleep(self.sleep_s * len(events))

    async def on_event(self, event: Event) -> None:
        """One event: a batch of one."""
        await self.on_events((event,))

    async def on_exec_report(self, report: ExecReport) -> None:
        """Record the report's number (they are sent in order)."""
        self.reports.append(int(report.client_order_id.removeprefix("o")))
        self._poke()

    async def on_stop(self) -> None:
        """Nothing to release."""


def _p99(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] / 1000


async def _run(
    rate: float, seconds: float, symbols: int, *, slow: bool
) -> tuple[dict[str, BenchConsumer], BenchVenue, Any]:
    from tradegw_core.config.models import Settings
    from tradegw_core.gateway import Gateway
    from tradegw_core.plugin.registries import Registries

    gc.collect()
    names = ["fast1", "fast2"] + (["slow"] if slow else [])
    consumers = {n: BenchConsumer(symbols, sleep_s=0.001 if n == "slow" else 0.0) for n in names}
    made: list[BenchVenue] = []
    regs = Registries()

    def venue_factory(ctx: ProviderContext) -> BenchVenue:
        made.append(BenchVenue(ctx, symbols))
        return made[-1]

    regs.providers.add("bench", venue_factory, plugin_id="b")
    for n in names:
        regs.consumers.add(n, lambda _s, n=n: consumers[n], plugin_id="b")
    regs.freeze()
    settings = Settings.model_validate(
        {
            "gateway": {"providers": ["bench"], "consumers": names},
            "dispatcher": {
                "lane_size": 256,
                "backlog_size": 100,
                "budgets": {"slow": {"rate": 200, "burst": 20}} if slow else {},
            },
        }
    )
    reports = 0
    async with Gateway(settings, regs) as gw:
        venue = made[-1]
        venue.snapshots()
        start = time.perf_counter()
        total = int(rate * seconds)
        for i in range(0, total, 10):
            for _ in range(10):
                venue.frame()
            if slow and i % 100 == 0:
                reports += 1
                gw.dispatcher.deliver_exec("slow", _report(reports))
            ahead = start + (i + 10) / rate - time.perf_counter()
            await anyio.sleep(max(ahead, 0))
        with anyio.fail_after(60):
            # What is left reaches the slow consumer as the flush tick releases it; each
            # delivery pokes that consumer, and the state is checked after each.
            last = consumers["slow" if slow else "fast1"]
            while not _caught_up(gw, consumers, reports):
                await last.changed.wait()
        stats = gw.dispatcher.lane("slow").stats if slow else None
    return consumers, venue, (reports, stats, gw.dispatcher.dlq.total)


def _report(n: int) -> ExecReport:
    return ExecReport(
        event_id=f"bench:exec:{n}",
        provider="bench",
        symbol="S0-USD",
        venue_symbol="S0USD",
        client_order_id=f"o{n}",
        state=ExecState.ACK,
        consumer_id="slow",
    )


def _caught_up(gw: Any, consumers: Mapping[str, BenchConsumer], reports: int) -> bool:
    for name, consumer in consumers.items():
        lane = gw.dispatcher.lane(name)
        if lane.depth or lane.exec_depth or not all(g.idle for g in lane.gates.values()):
            return False
        if name == "slow" and len(consumer.reports) < reports:
            return False
    return True


def _rate(c: BenchConsumer, seconds: float) -> float:
    return c.delivered / seconds


async def _main(rate: float, seconds: float, symbols: int, rounds: int) -> None:
    print(
        f"tradegw fairness: {rate:,.0f} events/s for {seconds} s over {symbols} symbols, "
        "3 consumers (one sleeps 1 ms per event it gets, budget 200/s per stream) vs the "
        f"2 fast ones alone; medians of {rounds} alternating runs"
    )
    base_runs, mixed_runs = [], []
    for _ in range(rounds):
        base_runs.append((await _run(rate, seconds, symbols, slow=False))[0])
        mixed_runs.append(await _run(rate, seconds, symbols, slow=True))
    for name in ("fast1", "fast2"):
        p99_b = statistics.median(_p99(r[name].latencies) for r in base_runs)
        p99_m = statistics.median(_p99(r[0][name].latencies) for r in mixed_runs)
        rate_b = statistics.median(_rate(r[name], seconds) for r in base_runs)
        rate_m = statistics.median(_rate(r[0][name], seconds) for r in mixed_runs)
        ok = p99_m <= p99_b * 1.1 and rate_m >= rate_b * 0.9
        print(
            f"  {name}: p99 {p99_m:7.1f} us vs {p99_b:7.1f} us alone ({p99_m / p99_b:4.2f}x), "
            f"rate {rate_m:8,.0f}/s vs {rate_b:8,.0f}/s ({rate_m / rate_b:4.2f}x), "
            f"{'within' if ok else 'NOT within'} 10%"
        )
    mixed, venue, (reports, slow_stats, dlq) = mixed_runs[-1]
    slow = mixed["slow"]
    books_ok = all(
        (slow.books[s].bids, slow.books[s].asks) == venue.books[s] for s in venue.symbols
    )
    in_order = slow.reports == list(range(1, reports + 1))
    assert slow_stats is not None
    print(
        f"  slow: {slow.delivered:,} events delivered, {dlq:,} trades to the DLQ (counted), "
        f"book equals the venue's: {books_ok}, exec reports {len(slow.reports)}/{reports} "
        f"in order: {in_order}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point (``make bench`` runs it after the pipeline section)."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench.fairness")
    parser.add_argument("--rate", type=float, default=4000.0, help="venue events per second")
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each configuration")
    args, _ = parser.parse_known_args(argv)
    anyio.run(_main, args.rate, args.seconds, args.symbols, args.rounds)


if __name__ == "__main__":
    main()

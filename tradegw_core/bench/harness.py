"""Run the real gateway on a tape: the bench's way into the venue code.

A :class:`~tradegw_core.net.tape.TapePlayer` stands in for the venue (sockets and REST),
so the frames enter where the WebSocket reader hands them to the provider
(``WsClient`` -> the plugin's ``on_frame``), then go through the provider, book stage,
assembler, orchestrator and dispatcher to a consumer callback, as in ``tradegw run``.
The tape's set-up part (instruments, subscription acks) plays before the clock starts:
the player holds at ``marker`` until :meth:`GatewayRun.release`.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio

from tradegw_core.book.resync import ResyncScheduler
from tradegw_core.net.tape import Record, TapePlayer, using_tape
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Event

__all__ = ["Books", "GatewayRun", "Sink", "TapeCase", "run_gateway_on"]

Books = dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]]
"""Symbol -> (bids, asks), price -> quantity."""


@dataclass
class TapeCase:
    """One bench case's input for tradegw: the tape and what to subscribe."""

    provider: str
    settings: Mapping[str, Any]
    """The ``[providers.<provider>]`` section."""
    records: list[Record]
    marker: int
    """Index of the first timed record (what comes before is set-up)."""
    symbols: Sequence[str]
    types: Sequence[str]
    responder: Callable[[str, str], Sequence[str]] | None = None
    """Answers to what the provider sends (acks), when the tape holds only venue data."""
    gate: int | None = None
    """With a responder: the index of the first venue frame, held back until the gateway
    subscribed and settled (a snapshot before the subscription would be dropped)."""

    @property
    def frames(self) -> int:
        """Timed frames (``recv`` records from the marker on)."""
        return sum(1 for r in self.records[self.marker :] if r[1] in ("recv", "recvb"))


@dataclass
class Sink:
    """The bench consumer: counts events (and keeps books when ``books`` is on)."""

    symbols: Sequence[str]
    types: Sequence[str]
    provider: str
    keep_books: bool = False
    target: int = 0
    count: int = 0
    latencies: list[int] = field(default_factory=list)
    measure_latency: bool = False
    books: Books = field(default_factory=dict)
    reached: anyio.Event = field(default_factory=anyio.Event)

    async def on_start(self, ctx: Any) -> None:
        """Subscribe to the case's streams."""
        ack = await ctx.subscribe([self.provider], list(self.symbols), list(self.types))
        if not ack.ok:
            raise RuntimeError(f"bench subscribe failed: {ack.error}")

    async def on_event(self, event: Event) -> None:
        """Count (and measure, and keep the book)."""
        if self.measure_latency:
            self.latencies.append(time.monotonic_ns() - event.ts_ingest)
        if self.keep_books:
            _apply(self.books, event)
        self.count += 1
        if self.count == self.target:
            self.reached.set()

    async def on_exec_report(self, report: Any) -> None:
        """None in the bench."""

    async def on_stop(self) -> None:
        """Nothing to release."""


def _apply(books: Books, event: Event) -> None:
    if isinstance(event, BookSnapshot):
        books[str(event.symbol)] = (
            {lv.price: lv.qty for lv in event.bids},
            {lv.price: lv.qty for lv in event.asks},
        )
    elif isinstance(event, BookUpdate):
        bids, asks = books.setdefault(str(event.symbol), ({}, {}))
        for side, levels in ((bids, event.bids), (asks, event.asks)):
            for lv in levels:
                if lv.qty:
                    side[lv.price] = lv.qty
                else:
                    side.pop(lv.price, None)


@dataclass
class GatewayRun:
    """A running gateway on a held tape."""

    player: TapePlayer
    sinks: list[Sink]
    gateway: Any

    def release(self) -> float:
        """Let the timed frames go; returns the perf_counter start."""
        start = time.perf_counter()
        self.player.release()
        return start

    async def drain(self, quiet_s: float = 0.05) -> None:
        """Wait until the tape is played and the consumer saw nothing new for ``quiet_s``."""
        await self.player.done.wait()
        seen = -1
        while seen != (now := sum(s.count for s in self.sinks)):
            seen = now
            await anyio.sleep(quiet_s)


@asynccontextmanager
async def run_gateway_on(
    case: TapeCase,
    sinks: Sink | Sequence[Sink],
    *,
    pace: float | None = None,
    burst: int = 64,
    lane_size: int = 100_000,
    hold: bool = True,
) -> AsyncIterator[GatewayRun]:
    """A real gateway (one provider, the bench consumers) on ``case``'s tape."""
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.gateway import Gateway
    from tradegw_core.plugin.registries import Registries

    gc.collect()
    sink_list = [sinks] if isinstance(sinks, Sink) else list(sinks)
    names = [f"bench{i}" for i in range(len(sink_list))]
    regs = Registries()
    for name, sink in zip(names, sink_list, strict=True):
        regs.consumers.add(name, _const(sink), plugin_id="bench")
    loaded = load_config_mapping(
        {
            "plugins": {"enabled": [case.provider]},
            "gateway": {"providers": [case.provider], "consumers": names},
            # No budget: a replay runs far faster than any live feed, and the bench measures
            # the path, not fair share (bench.fairness does).
            "dispatcher": {"lane_size": lane_size, "rate": 0},
            "providers": {case.provider: dict(case.settings)},
        },
        registries=regs,
    )
    player = TapePlayer(
        case.records,
        pace=pace,
        burst=burst,
        hold_at=(case.marker if case.gate is None else case.gate) if hold else None,
        responder=case.responder,
        stall_s=60.0,  # a loaded machine is no divergence: the bench's tapes all play out
    )
    with using_tape(player):
        gateway = Gateway(loaded.settings, loaded.registries)
        for stages in gateway.book_stages.values():
            _lift_snapshot_limits(stages)
        async with gateway:
            with anyio.fail_after(120):
                await player.held.wait()
                # Let every task reach its wait (the book stages' resync tasks wait for the
                # first diff before they ask for a snapshot), as they would long before the
                # venue's first frame: the timed part starts from a settled gateway.
                await anyio.wait_all_tasks_blocked()
                if hold and case.gate is not None:
                    player.release(then_hold_at=case.marker)
                    await player.held.wait()
                    await anyio.wait_all_tasks_blocked()
            yield GatewayRun(player, sink_list, gateway)


def _lift_snapshot_limits(stages: Any) -> None:
    """Let every book fetch its snapshot at once, as the captured sessions did.

    The stage paces snapshot fetches (4 in flight, 2/s) to spare the venue's REST weight;
    on a tape that would only add waits that are not part of the frame path.
    """
    settings = dataclasses.replace(
        stages.settings, max_inflight=1024, snapshot_burst=1024, snapshot_rate_per_s=1e6
    )
    stages.settings = settings
    stages.scheduler = ResyncScheduler(settings, now_ns=stages.clock.monotonic_ns())


def _const(sink: Sink) -> Callable[[Any], Sink]:
    return lambda _settings: sink

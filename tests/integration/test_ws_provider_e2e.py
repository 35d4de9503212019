"""End to end: a WebSocket provider over a real loopback socket, through a real Gateway.

The provider (:mod:`.wsfeed`) uses the core's ``WsClient`` and book stage; the venue
(:mod:`.wsvenue`) is a ``websockets`` server on 127.0.0.1 that records what it receives.
Nothing here sleeps to wait: the venue and the consumer signal, ``fail_after`` bounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import pytest

from tradegw_core.config.models import compose_settings_model
from tradegw_core.contracts import Provider, ProviderContext
from tradegw_core.gateway import Gateway
from tradegw_core.net.backoff import Backoff
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
from .wsvenue import LoopbackVenue, loopback_venue

pytestmark = pytest.mark.anyio

TRADE = [EventType.TRADE]
BOOK = [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]


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
    async with Gateway(settings, regs, shutdown_timeout=2.0) as gw:
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


async def test_subscribe_delivers_and_unsubscribe_stops_within_a_second() -> None:
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(1):
            ack = await h.subscribe("rec", ["BTC-USDT"], TRADE)
            assert ack.ok, ack.error
            seq = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: seq in r.trades())
        assert venue.ops("subscribe") == [["trade:BTCUSDT"]]
        trade = rec.events[-1]
        assert isinstance(trade, Trade)
        assert (trade.provider, trade.symbol, trade.venue_symbol) == (
            "wsfeed",
            "BTC-USDT",
            "BTCUSDT",
        )
        assert (trade.price, trade.qty) == (Decimal("100.5"), Decimal("0.25"))
        assert trade.routing_version == ack.routing_version
        assert trade.trace_id

        assert (await h.subscribe("rec", ["ETH-USDT"], TRADE)).ok  # the marker stream
        with anyio.fail_after(1):
            ack = await h.unsubscribe("rec", ["BTC-USDT"], TRADE)
            assert ack.ok, ack.error
            # The venue saw the unsubscribe before the Ack came back.
            assert venue.ops("unsubscribe") == [["trade:BTCUSDT"]]
            # A venue that still sends (in flight) must not reach the consumer.
            late = await venue.trade("BTCUSDT", force=True)
            marker = await venue.trade("ETHUSDT")
            await rec.wait_for(lambda r: marker in r.trades())
        assert late not in rec.trades()
        assert rec.trades("BTC-USDT") == [seq]
        assert venue.latest == 1  # all of it on one connection


async def test_the_venue_subscribes_for_the_first_consumer_and_unsubscribes_after_the_last() -> (
    None
):
    async with loopback_venue() as venue, running(venue, consumers=("a", "b")) as h:
        a, b = h.consumers["a"], h.consumers["b"]
        assert (await h.subscribe("a", ["BTC-USDT", "ETH-USDT"], TRADE)).ok
        assert venue.ops("subscribe") == [["trade:BTCUSDT", "trade:ETHUSDT"]]
        assert (await h.subscribe("b", ["BTC-USDT"], TRADE)).ok
        assert venue.ops("subscribe") == [["trade:BTCUSDT", "trade:ETHUSDT"]]  # not again
        with anyio.fail_after(1):
            first = await venue.trade("BTCUSDT")
            await a.wait_for(lambda r: first in r.trades())
            await b.wait_for(lambda r: first in r.trades())

        assert (await h.unsubscribe("a", ["BTC-USDT"], TRADE)).ok
        assert venue.ops("unsubscribe") == []  # b still wants it
        with anyio.fail_after(1):
            second = await venue.trade("BTCUSDT")
            marker = await venue.trade("ETHUSDT")
            await b.wait_for(lambda r: second in r.trades())
            await a.wait_for(lambda r: marker in r.trades())
        assert a.trades("BTC-USDT") == [first]
        assert b.trades() == [first, second]

        assert (await h.unsubscribe("b", ["BTC-USDT"], TRADE)).ok
        assert venue.ops("unsubscribe") == [["trade:BTCUSDT"]]  # the last one left
        assert venue.subscriptions[1] == {"trade:ETHUSDT"}
        assert venue.latest == 1
        assert venue.close_codes == {}


async def test_a_dropped_connection_reconnects_with_backoff_resubscribes_and_resumes() -> None:
    backoff = RecordingBackoff()
    async with loopback_venue() as venue, running(venue, backoff=backoff) as h:
        rec = h.consumers["rec"]
        assert (await h.subscribe("rec", ["BTC-USDT"], TRADE + BOOK)).ok
        with anyio.fail_after(1):
            await rec.wait_for(lambda r: len(r.snapshots()) == 1)
            before = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: before in r.trades())

        venue.refuse_handshakes = 1  # the first attempt to come back fails too
        with anyio.fail_after(1):
            venue.drop(1)
            await venue.wait_for(lambda v: v.ops("subscribe", socket=2) != [])
            await rec.wait_for(lambda r: len(r.snapshots()) == 2)  # the book resynced
            after = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: after in r.trades())

        assert venue.ops("subscribe", socket=2) == [["book:BTCUSDT", "trade:BTCUSDT"]]
        assert venue.refused == 1
        assert venue.latest == 2
        assert len(backoff.delays) == 2  # once before each attempt
        assert all(0 <= d <= backoff.cap_s for d in backoff.delays)
        assert h.telemetry("ws.reconnect") == [{"provider": "wsfeed", "reason": "closed"}]
        assert h.telemetry("ws.connect_failed") == [
            {"provider": "wsfeed", "error": "VenueConnectionError"}
        ]
        reasons = [t["reason"] for t in h.telemetry("book.resync")]
        assert reasons == ["initial", "reconnect"]
        assert rec.trades() == [before, after]
        assert book_of(rec.book_events()) == venue_book(venue, "BTCUSDT")
        # Nothing the consumer asked for had to be asked again.
        assert len(h.gw.subscriptions.streams_of("rec")) == 3


async def test_a_stale_feed_is_detected_and_recovered() -> None:
    async with loopback_venue() as venue, running(venue, stale_after_s=0.2) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(1):
            assert (await h.subscribe("rec", ["BTC-USDT"], TRADE)).ok
            seq = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: seq in r.trades())
            # The venue now goes silent (its socket stays open): the client must notice.
            await venue.wait_for(lambda v: v.ops("subscribe", socket=2) != [])
            resumed = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: resumed in r.trades())
        stale = h.telemetry("ws.stale")
        assert stale
        assert stale[0] == {"provider": "wsfeed"}
        assert h.telemetry("ws.reconnect")[0] == {"provider": "wsfeed", "reason": "stale"}
        assert venue.close_codes[1] == 1000  # the client closed the dead socket cleanly
        assert h.provider.ws.stats.stale >= 1


async def test_book_snapshot_comes_first_and_again_after_a_forced_resync() -> None:
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        venue.hold_snapshots = True
        with anyio.fail_after(1):
            assert (await h.subscribe("rec", ["BTC-USDT"], BOOK)).ok
            await venue.wait_for(lambda v: any(m.get("op") == "snapshot" for _, m in v.received))
            # Diffs stream while the snapshot is on its way: they must be buffered.
            await venue.diff("BTCUSDT", "ask", "102", "3")
            await venue.diff("BTCUSDT", "bid", "100", "0")
            venue.hold_snapshots = False
            await venue.release_snapshots()
            await rec.wait_for(lambda r: len(r.snapshots()) == 1)
        first = rec.book_events()[0]
        assert isinstance(first, BookSnapshot)  # no update before the first snapshot
        assert first.seq_provider == venue.book("BTCUSDT").seq  # the buffered diffs replayed
        assert book_of([first]) == venue_book(venue, "BTCUSDT")

        with anyio.fail_after(1):
            seq = await venue.diff("BTCUSDT", "bid", "99.5", "4")
            await rec.wait_for(lambda r: isinstance(r.events[-1], BookUpdate))
        update = rec.events[-1]
        assert isinstance(update, BookUpdate)
        assert (update.prev_seq, update.last_seq) == (first.seq_provider, seq)

        with anyio.fail_after(1):
            lost = await venue.diff("BTCUSDT", "ask", "101", "0", skip=1)  # a diff went missing
            await rec.wait_for(lambda r: len(r.snapshots()) == 2)
            after = await venue.diff("BTCUSDT", "ask", "103", "1")
            await rec.wait_for(lambda r: r.events[-1].seq_provider == after)
        events = rec.book_events()
        assert [type(e).__name__ for e in events] == [
            "BookSnapshot",
            "BookUpdate",
            "BookSnapshot",
            "BookUpdate",
        ]
        assert events[2].seq_provider == lost  # the resync snapshot includes the gap's diff
        resyncs = h.telemetry("book.resync")
        assert [(t["reason"], t["symbol"]) for t in resyncs] == [
            ("initial", "BTC-USDT"),
            ("gap", "BTC-USDT"),
        ]
        assert book_of(events) == venue_book(venue, "BTCUSDT")


async def test_leaving_the_gateway_closes_the_socket_cleanly_and_leaves_no_task() -> None:
    async with loopback_venue() as venue:
        before = asyncio.all_tasks()
        async with running(venue) as h:
            rec = h.consumers["rec"]
            with anyio.fail_after(1):
                assert (await h.subscribe("rec", ["BTC-USDT"], TRADE + BOOK)).ok
                await rec.wait_for(lambda r: len(r.snapshots()) == 1)
            provider = h.provider
        with anyio.fail_after(1):
            await venue.wait_for(lambda v: 1 in v.close_codes)
        assert venue.close_codes[1] == 1000  # a closing handshake, not a dropped socket
        assert rec.stopped
        assert not provider.ws.connected
        assert h.gw.dispatcher.ordering.pending_streams() == []
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert [t for t in left if "websockets" not in repr(t.get_coro())] == []


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        ({"providers": ["nope"]}, "unknown provider 'nope' (providers: wsfeed)"),
        ({"symbols": ["DOGE-USDT"]}, "unknown symbol(s) DOGE-USDT on provider 'wsfeed'"),
        ({"types": ["Ticker"]}, "type(s) Ticker not supported by provider 'wsfeed'"),
        (b'{"kind": "subscribe", "consumer_id": "rec", "providers": [', "malformed"),
        ({"types": ["Sideways"]}, "malformed control message"),
    ],
)
async def test_bad_control_input_gets_an_error_ack_and_changes_nothing(
    msg: dict[str, Any] | bytes, error: str
) -> None:
    async with loopback_venue() as venue, running(venue) as h:
        assert (await h.subscribe("rec", ["ETH-USDT"], TRADE)).ok
        version = h.gw.dispatcher.routing_version
        streams = h.gw.subscriptions.streams_of("rec")
        received = list(venue.received)
        request: dict[str, Any] | bytes = msg
        if isinstance(msg, dict):
            request = {
                "kind": "subscribe",
                "consumer_id": "rec",
                "providers": ["wsfeed"],
                "symbols": ["BTC-USDT"],
                "types": ["Trade"],
                **msg,
            }
        with anyio.fail_after(1):
            ack = await h.gw.request(request)
        assert not ack.ok
        assert error in (ack.error or "")
        assert h.gw.dispatcher.routing_version == version
        assert h.gw.subscriptions.streams_of("rec") == streams
        assert venue.received == received  # nothing went to the venue
        assert h.provider.channels == {"trade:ETHUSDT"}

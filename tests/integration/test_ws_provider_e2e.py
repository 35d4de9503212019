"""End to end: a WebSocket provider over a real loopback socket, through a real Gateway.

The provider (:mod:`.wsfeed`) uses the core's ``WsClient`` and book stage; the venue
(:mod:`.wsvenue`) is a ``websockets`` server on 127.0.0.1 that records what it receives;
:mod:`.harness` builds the Gateway from composed settings and frozen registries.
Nothing here sleeps to wait: the venue and the consumer signal, ``fail_after`` bounds.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import anyio
import pytest

from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Trade

from .harness import RecordingBackoff, book_of, running, venue_book
from .wsvenue import loopback_venue

pytestmark = pytest.mark.anyio

TRADE = [EventType.TRADE]
BOOK = [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]


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
            quiet_since = anyio.current_time()
            # The venue now goes silent (its socket stays open): the client must notice.
            await venue.wait_for(lambda v: 1 in v.close_codes)
            detected_after = anyio.current_time() - quiet_since
            await venue.wait_for(lambda v: v.ops("subscribe", socket=2) != [])
            resumed = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: resumed in r.trades())
        stale = h.telemetry("ws.stale")
        assert stale
        assert stale[0] == {"provider": "wsfeed"}
        assert h.telemetry("ws.reconnect")[0] == {"provider": "wsfeed", "reason": "stale"}
        assert venue.close_codes[1] == 1000  # the client closed the dead socket cleanly
        assert detected_after >= 0.15  # not before the deadline (0.2 s after the last frame)
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


async def test_a_book_unsubscribed_and_subscribed_again_starts_from_a_fresh_snapshot() -> None:
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(1):
            assert (await h.subscribe("rec", ["BTC-USDT"], BOOK)).ok
            await rec.wait_for(lambda r: len(r.snapshots()) == 1)
            assert (await h.unsubscribe("rec", ["BTC-USDT"], BOOK)).ok
        assert venue.ops("unsubscribe") == [["book:BTCUSDT"]]
        assert h.provider.books == {}  # its stage was closed
        missed = await venue.diff("BTCUSDT", "ask", "105", "1")  # nobody listens now
        with anyio.fail_after(1):
            assert (await h.subscribe("rec", ["BTC-USDT"], BOOK)).ok
            await rec.wait_for(lambda r: len(r.snapshots()) == 2)
        assert [type(e) for e in rec.book_events()] == [BookSnapshot, BookSnapshot]
        second = rec.snapshots()[1]
        assert second.seq_provider is not None
        assert second.seq_provider > missed
        assert book_of([second]) == venue_book(venue, "BTCUSDT")

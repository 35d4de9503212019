"""Hostile frames in a live gateway: rejected and counted, never a provider restart.

The wsfeed provider reads through the core's ``WsClient`` with ``on_reject=ctx.reject_frame``;
the loopback venue sends what a broken or hostile venue could: text that is not JSON, JSON
nested thousands of levels deep, a ~4 MiB frame, a book diff with a NaN price.
"""

from __future__ import annotations

import json
import logging

import anyio
import pytest

from tradegw_core.schema.events import EventType

from .harness import Harness, book_of, running, venue_book
from .wsvenue import loopback_venue

pytestmark = pytest.mark.anyio

TRADE = [EventType.TRADE]
BOOK = [EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE]
METRIC = "tradegw_provider_frames_rejected_total"


def rejected(h: Harness, reason: str) -> float:
    return h.gw.metrics.value(METRIC, provider="wsfeed", reason=reason) or 0.0


async def test_garbage_deep_and_huge_frames_are_rejected_without_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deep = '{"ch":' + "[" * 5000 + "]" * 5000 + "}"  # ~10 KB, RecursionError in any decoder
    huge = '{"ch":"trade","pad":"' + "x" * (4 * 2**20 - 64) + '"}'  # ~4 MiB, under max_size
    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        first = h.provider
        with anyio.fail_after(5):
            assert (await h.subscribe("rec", ["BTC-USDT"], TRADE)).ok
            await venue.send_raw(1, "{not json")  # the provider's parser raises
            await venue.send_raw(1, deep)
            await venue.send_raw(1, huge)
            seq = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: seq in r.trades())
        assert h.provider is first  # the same instance, on the same socket
        assert h.gw.providers["wsfeed"].restarts == 0
        assert h.telemetry("provider.failed") == []
        assert venue.latest == 1
        assert 1 not in venue.close_codes
        assert rejected(h, "handler_error") == 1
        assert rejected(h, "too_deep") == 1
        assert rejected(h, "too_large") == 1
        assert first.ws.stats.rejected == 3
    lines = [r for r in caplog.records if r.name == "tradegw.frames"]
    assert [r.getMessage().split(": ")[2] for r in lines] == [
        "handler_error",
        "too_deep",
        "too_large",
    ]
    assert all(r.getMessage().startswith("wsfeed: rejected a frame") for r in lines)
    assert lines[0].exc_info is not None  # the escaped exception's traceback is logged
    assert "4194" in lines[2].getMessage()  # the size, never the content
    assert "xxxx" not in lines[2].getMessage()


async def test_a_flood_of_garbage_is_counted_in_full_but_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(5):
            assert (await h.subscribe("rec", ["BTC-USDT"], TRADE)).ok
            for i in range(200):
                await venue.send_raw(1, f"garbage {i}")
            seq = await venue.trade("BTCUSDT")
            await rec.wait_for(lambda r: seq in r.trades())
        assert rejected(h, "handler_error") == 200
        assert h.gw.providers["wsfeed"].restarts == 0
    lines = [r for r in caplog.records if r.name == "tradegw.frames"]
    assert 1 <= len(lines) <= 6  # a burst of 5, then one per 10 s


async def test_a_poisoned_book_frame_is_rejected_and_resyncs_that_book() -> None:
    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(5):
            assert (await h.subscribe("rec", ["BTC-USDT"], BOOK)).ok
            await rec.wait_for(lambda r: len(r.snapshots()) == 1)
            poisoned = venue.book("BTCUSDT").diff("BTCUSDT", "bid", "99.5", "3")
            poisoned["bids"] = [["NaN", "3"]]
            await venue.send_raw(1, json.dumps(poisoned))
            await rec.wait_for(lambda r: len(r.snapshots()) == 2)  # resynced
        assert rejected(h, "value") == 1
        assert h.gw.providers["wsfeed"].restarts == 0
        resyncs = h.telemetry("book.resync")
        assert [e["reason"] for e in resyncs if e["reason"] == "rejected"] == ["rejected"]
        # The fresh snapshot is the venue's truth (the lost level included), nothing NaN.
        assert book_of(rec.book_events()[-1:]) == venue_book(venue, "BTCUSDT")
        assert all(p.is_finite() for side in book_of(rec.book_events()) for p in side)


async def test_a_4_mib_frame_is_refused_without_stalling_the_event_loop() -> None:
    huge = (
        '{"ch":"book","sym":"BTCUSDT","type":"diff","first":1,"last":1,"bids":['
        + ",".join(['["100.5","1"]'] * 295_000)
        + '],"asks":[]}'
    )  # ~4 MiB (under max_size) of real levels: parsing it all took 0.3-0.7 s
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = anyio.current_time()
        while True:
            await anyio.sleep(0.001)
            now = anyio.current_time()
            gaps.append(now - last)
            last = now

    async with loopback_venue() as venue, running(venue) as h:
        rec = h.consumers["rec"]
        with anyio.fail_after(10):
            assert (await h.subscribe("rec", ["BTC-USDT"], TRADE)).ok
            async with anyio.create_task_group() as tg:
                tg.start_soon(heartbeat)
                await venue.send_raw(1, huge)
                seq = await venue.trade("BTCUSDT")
                await rec.wait_for(lambda r: seq in r.trades())
                tg.cancel_scope.cancel()
        assert rejected(h, "too_large") == 1
        assert h.gw.providers["wsfeed"].restarts == 0
    mib, gap_ms = len(huge) / 2**20, max(gaps) * 1000
    print(f"longest event-loop gap around a {mib:.1f} MiB frame: {gap_ms:.1f} ms")
    assert max(gaps) < 0.25

"""A provider restart mid-stream, per venue: books come back equal to the venue's, fast, and
nothing is dropped as a duplicate (issue 19).

The restart is the real one a failing provider gets: its supervisor stops the instance and
builds a new one from the factory, which connects, is subscribed again to what consumers
want, resyncs its books and sends them fresh BookSnapshots. Before the fix a restarted
Coinbase provider numbered its connection epochs from 1 again, so its book event ids
repeated ids still in the dispatcher's dedup window and its updates were dropped.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tradegw_core.schema.events import BookSnapshot

from .harness import (
    BOOK,
    SYMBOL,
    VENUES,
    Recorder,
    book_of,
    emulators,
    gateway,
    installed,
    require,
    top,
    venue_book,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

DEPTH = 10


def books_match(rec: Recorder, emu: object, venue: str) -> bool:
    """The consumer's book (rebuilt from what it got) equals the emulator's, top DEPTH."""
    return top(book_of(rec.book_events(venue)), DEPTH) == venue_book(emu, SYMBOL, DEPTH)  # type: ignore[arg-type]


@pytest.mark.parametrize("venue", VENUES)
async def test_provider_restart_mid_stream_books_equal_the_venue_within_2_s(
    venue: str, tmp_path: Path
) -> None:
    regs = installed()
    require(regs, venue)
    rec = Recorder("rec")
    async with (
        emulators(regs, [venue], rate=20) as emus,
        gateway(regs, emus, [rec], tmp_path / "journal.sqlite3") as gw,
    ):
        sup = gw.providers[venue]
        with anyio.fail_after(5):
            await sup.wait_running()
            ack = await rec.ctx.subscribe([venue], [SYMBOL], BOOK)
            assert ack.ok, ack.error
        await rec.until(lambda: len(rec.book_events(venue)) > 30)
        await rec.until(lambda: books_match(rec, emus[venue], venue), 2.0)
        snapshots = sum(isinstance(e, BookSnapshot) for e in rec.book_events(venue))

        assert sup.restart("test: restart mid-stream")
        # A fresh snapshot from the new instance, then books equal the venue's within 2 s.
        await rec.until(
            lambda: sum(isinstance(e, BookSnapshot) for e in rec.book_events(venue)) > snapshots,
            2.0,
        )
        await rec.until(lambda: books_match(rec, emus[venue], venue), 2.0)
        after = len(rec.book_events(venue))
        await rec.until(lambda: len(rec.book_events(venue)) > after + 20, 3.0)
        await rec.until(lambda: books_match(rec, emus[venue], venue), 2.0)
        assert sup.restarts == 1
        assert gw.dispatcher.stats.duplicates == 0
        assert gw.provider_contexts[venue].run_epoch.endswith(".3")  # built twice

"""Record a live run against each venue emulator, replay the tape: same events, same books.

The live run is what ``tradegw record`` does (the real gateway under a tape recorder, the
emulator on loopback, its market stepped by the test); the replay is what ``tradegw
replay`` does (the same settings, a tape player in place of the venue, no network). The
replay must give the consumer the same events in the same order and the same final books,
and for Kraken every book message's checksum must verify against the consumer's book.
Quiescence is awaited with ``anyio.wait_all_tasks_blocked`` rounds, never a sleep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from tradegw_core.bench.emulated import record_emulator_run, settle
from tradegw_core.bench.harness import Sink
from tradegw_core.config.loader import load_config_mapping
from tradegw_core.gateway import Gateway
from tradegw_core.net.tape import TapePlayer, read_tape, using_tape
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Event, Level
from tradegw_core.tapes import market_data_registries

pytestmark = pytest.mark.anyio

_TYPES = ["BookSnapshot", "BookUpdate", "Trade"]
_STEPS = 150
_PER_RUN = ("ts_ingest", "trace_id", "routing_version", "event_id")
"""Stamped by this process, not carried by the venue's data (an event id holds the process
epoch where a venue's sequence restarts per connection, so it is unique per run)."""
_OPTIONS: dict[str, dict[str, Any]] = {"binance": {"depth_interval_s": 3600.0}}
_FLUSH = {"binance": 3}


class Collector(Sink):
    """Keeps every event (less what this run stamps on it) and the books they build; for Kraken, the
    top 10 levels after each book message, to check its checksum against."""

    def __init__(self, venue: str, symbols: list[str]) -> None:
        super().__init__(symbols, _TYPES, venue, keep_books=True)
        self.events: list[dict[str, Any]] = []
        self.book_events = 0
        self.tops: list[tuple[str, int | None, list[Level], list[Level]]] = []

    async def on_event(self, event: Event) -> None:
        fields = msgspec.structs.asdict(event)
        for per_run in _PER_RUN:
            fields.pop(per_run, None)
        self.events.append({"type": type(event).__name__, **fields})
        await super().on_event(event)
        if isinstance(event, BookSnapshot | BookUpdate):
            self.book_events += 1
            if self.provider == "kraken":
                bids, asks = self.books[str(event.symbol)]
                top_asks = [Level(p, asks[p]) for p in sorted(asks)[:10]]
                top_bids = [Level(p, bids[p]) for p in sorted(bids, reverse=True)[:10]]
                self.tops.append((str(event.symbol), event.checksum, top_asks, top_bids))

    def verified(self, precisions: dict[str, tuple[int, int]]) -> int:
        """How many book messages' checksums match the book they left (all, or raise)."""
        from tradegw_kraken.checksum import book_checksum

        for symbol, checksum, asks, bids in self.tops:
            assert book_checksum(asks, bids, *precisions[symbol]) == checksum, symbol
        return len(self.tops)


def _kraken_precisions(records: list[Any]) -> dict[str, tuple[int, int]]:
    """Canonical symbol -> (price, qty) decimals, from the tape's ``AssetPairs`` answer."""
    import json

    from tradegw_kraken.symbols import ws_v2_name

    body = next(r[3] for r in records if r[1] == "http" and "AssetPairs" in r[2])
    return {
        ws_v2_name(p["wsname"]).replace("/", "-"): (p["pair_decimals"], p["lot_decimals"])
        for p in json.loads(body)["result"].values()
    }


@pytest.mark.parametrize("venue", ["binance", "kraken", "coinbase"])
async def test_replay_of_a_recorded_emulator_run_gives_the_same_events_and_books(
    venue: str, tmp_path: Path
) -> None:
    from tradegw_core.sim.emulator import DEFAULT_SYMBOLS

    symbols = list(DEFAULT_SYMBOLS)[:2]
    live = Collector(venue, symbols)
    with anyio.fail_after(50):
        rec = await record_emulator_run(
            venue,
            live,
            steps=_STEPS,
            symbols=symbols,
            directory=tmp_path / "tape",
            segment_bytes=32 * 1024,
            sim_options=_OPTIONS.get(venue),
            flush_every=_FLUSH.get(venue, 0),
        )
        again = Collector(venue, symbols)
        regs = Registries()
        regs.consumers.add("collect", lambda _s: again, plugin_id="test")
        loaded = load_config_mapping(
            {
                "plugins": {"enabled": [venue]},
                "gateway": {"providers": [venue], "consumers": ["collect"]},
                "providers": {venue: rec.settings},
            },
            registries=regs,
        )
        player = TapePlayer(read_tape(tmp_path / "tape"))
        with using_tape(player):
            async with Gateway(loaded.settings, market_data_registries(loaded.registries)):
                await player.done.wait()
                await settle(again)

    assert rec.segments > 1  # bounded files: the 32 KiB segments rolled over
    assert player.skipped == 0
    assert live.book_events > _STEPS / 10
    assert any(e["type"] == "Trade" for e in live.events)
    assert again.events == live.events
    assert again.books == live.books
    assert set(live.books) == set(symbols)
    if venue == "kraken":  # every book message verified, live and replayed
        precisions = _kraken_precisions(rec.records)
        assert live.verified(precisions) == again.verified(precisions) == live.book_events

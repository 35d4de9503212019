"""The Kraken book assembler: exact depth, truncation, checksum on every message, resync."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from tradegw_kraken.book import KrakenBookAssembler
from tradegw_kraken.emulator_book import DepthView, VenueBook, ViewMessage
from tradegw_kraken.schemas import KrakenBookMsg, KrakenLevelMsg

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import ResyncNeeded, ResyncReason
from tradegw_core.errors import ConfigError
from tradegw_core.schema.events import BookSnapshot, BookUpdate
from tradegw_core.schema.symbols import Instrument

InstFactory = Callable[..., Instrument]


def _msg(view: ViewMessage, checksum: int | None = None) -> KrakenBookMsg:
    return KrakenBookMsg(
        symbol="BTC/USD",
        bids=[KrakenLevelMsg(lv.price, lv.qty) for lv in view.bids],
        asks=[KrakenLevelMsg(lv.price, lv.qty) for lv in view.asks],
        checksum=view.checksum if checksum is None else checksum,
        timestamp="2026-11-24T10:00:00.000001Z",
    )


def _seed_book(book: VenueBook, rng: random.Random, levels: int = 40) -> None:
    for _ in range(levels):
        book.set(
            "bids", Decimal(rng.randint(500, 999)) / 10, Decimal(rng.randint(1, 10**6)) / 10**4
        )
        book.set(
            "asks", Decimal(rng.randint(1000, 1500)) / 10, Decimal(rng.randint(1, 10**6)) / 10**4
        )


def _mutate(book: VenueBook, rng: random.Random) -> None:
    """One random venue change, biased to the top of the book where the window is."""
    side = rng.choice(["bids", "asks"])
    levels = book.bids if side == "bids" else book.asks
    op = rng.random()
    if op < 0.35 and levels:
        # delete one of the best levels (forces a level to enter the window from below)
        best = book.top(side, 12)
        book.set(side, rng.choice(best).price, Decimal(0))
    elif op < 0.7:
        lo, hi = (900, 999) if side == "bids" else (1000, 1100)
        book.set(side, Decimal(rng.randint(lo, hi)) / 10, Decimal(rng.randint(1, 10**6)) / 10**4)
    elif levels:
        price = rng.choice(book.top(side, 30)).price
        book.set(side, price, Decimal(rng.randint(1, 10**6)) / 10**4)


def _consumer_apply(book: OrderBook, upd: BookUpdate) -> None:
    for lv in upd.bids:
        book.set_bid(lv.price, lv.qty)
    for lv in upd.asks:
        book.set_ask(lv.price, lv.qty)


@pytest.mark.parametrize("depth", [10, 25])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truncation_keeps_exact_depth_and_every_checksum_verifies(
    make_inst: InstFactory, depth: int, seed: int
) -> None:
    rng = random.Random(seed)
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, rng)
    view = DepthView(venue, depth)
    asm = KrakenBookAssembler(venue.instrument, depth=depth)
    consumer = OrderBook()
    (snap,) = asm.apply_snapshot(_msg(view.snapshot()), ts_ingest=0)
    assert isinstance(snap, BookSnapshot)
    consumer.load(snap.bids, snap.asks)
    pushed_out = 0
    for step in range(400):
        _mutate(venue, rng)
        update = view.update()
        if update is None:
            continue
        out = asm.apply_diff(_msg(update), ts_ingest=step)
        assert [type(o) for o in out] == [BookUpdate], out
        upd = out[0]
        assert isinstance(upd, BookUpdate)
        pushed_out += sum(1 for lv in (*upd.bids, *upd.asks) if lv.qty == 0)
        _consumer_apply(consumer, upd)
        assert asm.book.top_bids() == venue.top("bids", depth)
        assert asm.book.top_asks() == venue.top("asks", depth)
        # A consumer applying the BookUpdates holds exactly the assembler's book.
        assert consumer.bids == asm.book.bids
        assert consumer.asks == asm.book.asks
    assert asm.synced
    assert pushed_out > 0


@pytest.mark.parametrize("depth", [10, 25])
def test_forgetting_truncation_fails_checksums(make_inst: InstFactory, depth: int) -> None:
    # The venue sends no delete for a level pushed below the depth: an assembler keeping
    # more levels than subscribed drifts and the checksum catches it.
    rng = random.Random(7)
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, rng)
    for lv in venue.top("asks", 1000):  # room above the bids: a burst never crosses
        venue.set("asks", lv.price + 100, lv.qty)
        venue.set("asks", lv.price, Decimal(0))
    view = DepthView(venue, depth)
    sloppy = KrakenBookAssembler(venue.instrument, depth=1000)
    right = KrakenBookAssembler(venue.instrument, depth=depth)
    first = _msg(view.snapshot())
    sloppy.apply_snapshot(first, 0)
    right.apply_snapshot(first, 0)
    failed = False
    # A burst of better bids pushes levels out of the window (no delete sent), then the
    # burst is cancelled: the window refills from below, where the stale levels sit.
    # Meanwhile the pushed-out levels are cancelled: the venue tells nobody (out of range).
    originals = venue.top("bids", depth)
    best = originals[0].price
    burst = [best + Decimal(i + 1) / 10 for i in range(depth)]
    steps = [(p, Decimal("1.5")) for p in burst]
    steps += [(lv.price, Decimal(0)) for lv in originals] + [(p, Decimal(0)) for p in burst]
    for step, (price, qty) in enumerate(steps):
        venue.set("bids", price, qty)
        update = view.update()
        if update is None:
            continue
        assert not isinstance(right.apply_diff(_msg(update), step)[0], ResyncNeeded)
        out = sloppy.apply_diff(_msg(update), step)
        failed = failed or any(isinstance(o, ResyncNeeded) for o in out)
    assert failed
    assert right.synced


def test_corrupted_checksum_on_update_resyncs(make_inst: InstFactory) -> None:
    rng = random.Random(11)
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, rng)
    view = DepthView(venue, 10)
    asm = KrakenBookAssembler(venue.instrument, depth=10)
    asm.apply_snapshot(_msg(view.snapshot()), 0)
    update = None
    while update is None:
        _mutate(venue, rng)
        update = view.update()
    out = asm.apply_diff(_msg(update, checksum=update.checksum ^ 1), 5)
    assert len(out) == 1
    verdict = out[0]
    assert isinstance(verdict, ResyncNeeded)
    assert verdict.reason is ResyncReason.CHECKSUM
    assert verdict.symbol == "BTC-USD"
    assert str(update.checksum ^ 1) in verdict.detail
    assert not asm.synced
    assert asm.checksum_failures == 1
    # Until a fresh snapshot arrives, updates are ignored, never applied to a broken book.
    _mutate(venue, rng)
    assert asm.apply_diff(_msg(view.update() or update), 6) == []
    assert asm.dropped_unsynced == 1
    # The resubscribe's snapshot replaces the book (never merges) and syncs again.
    (snap,) = asm.apply_snapshot(_msg(view.snapshot()), 7)
    assert isinstance(snap, BookSnapshot)
    assert asm.synced
    assert list(snap.bids) == venue.top("bids", 10)
    assert list(snap.asks) == venue.top("asks", 10)


def test_corrupted_checksum_on_snapshot_resyncs(make_inst: InstFactory) -> None:
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, random.Random(3))
    snap = DepthView(venue, 10).snapshot()
    asm = KrakenBookAssembler(venue.instrument, depth=10)
    (verdict,) = asm.apply_snapshot(_msg(snap, checksum=snap.checksum + 1), 0)
    assert isinstance(verdict, ResyncNeeded)
    assert verdict.reason is ResyncReason.CHECKSUM
    assert not asm.synced


def test_v2_message_without_checksum_is_a_failed_check(
    make_inst: InstFactory, make_book_msg: Callable[..., KrakenBookMsg]
) -> None:
    asm = KrakenBookAssembler(make_inst("BTC-USD", 1), depth=10)
    (verdict,) = asm.apply_snapshot(make_book_msg("BTC/USD", [("1.0", "1")], [], None), 0)
    assert isinstance(verdict, ResyncNeeded)
    assert "no checksum" in verdict.detail


def test_snapshot_deeper_than_depth_is_truncated_and_checksummed(
    make_inst: InstFactory,
) -> None:
    venue = VenueBook(make_inst("ETH-USD", 2, 8))
    _seed_book(venue, random.Random(5), levels=80)
    full = DepthView(venue, 100).snapshot()
    asm = KrakenBookAssembler(venue.instrument, depth=25)
    (snap,) = asm.apply_snapshot(_msg(full), 0)
    assert isinstance(snap, BookSnapshot)
    assert len(snap.bids) == 25
    assert len(snap.asks) == 25
    assert snap.bids[0].price > snap.bids[-1].price
    assert snap.asks[0].price < snap.asks[-1].price


def test_reconcile_counts_differences_without_changing_the_book(make_inst: InstFactory) -> None:
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, random.Random(9))
    view = DepthView(venue, 10)
    asm = KrakenBookAssembler(venue.instrument, depth=10)
    asm.apply_snapshot(_msg(view.snapshot()), 0)
    assert asm.reconcile(_msg(view.snapshot())) == 0
    best = venue.top("bids", 1)[0]
    venue.set("bids", best.price, best.qty + 1)
    before = dict(asm.book.bids)
    assert asm.reconcile(_msg(view.snapshot())) == 2  # old and new version of one level
    assert asm.book.bids == before


def test_only_the_venue_depths_are_accepted(make_inst: InstFactory) -> None:
    with pytest.raises(ConfigError, match="10, 25, 100, 500, 1000"):
        KrakenBookAssembler(make_inst("BTC-USD", 1), depth=20)


def test_update_ids_collide_across_connections_but_resync_snapshots_do_not(
    make_inst: InstFactory,
) -> None:
    venue = VenueBook(make_inst("BTC-USD", 1, 8))
    _seed_book(venue, random.Random(4))
    view = DepthView(venue, 10)
    a = KrakenBookAssembler(venue.instrument)
    b = KrakenBookAssembler(venue.instrument)
    snap = _msg(view.snapshot())
    (sa,) = a.apply_snapshot(snap, 0)
    (sb,) = b.apply_snapshot(snap, 1)
    assert isinstance(sa, BookSnapshot)
    assert isinstance(sb, BookSnapshot)
    assert sa.event_id == sb.event_id
    (again,) = a.apply_snapshot(snap, 2)
    assert isinstance(again, BookSnapshot)
    assert again.event_id != sa.event_id


def test_recorded_emulator_book_frames_verify(make_inst: InstFactory) -> None:
    from pathlib import Path

    from tradegw_kraken.parsing import KrakenDecoders

    resources = Path(__file__).resolve().parent / "resources"
    dec = KrakenDecoders()
    inst = make_inst("BTC-USD", 2, 5)  # the emulated pair: tick 0.01, lot 0.00001
    asm = KrakenBookAssembler(inst, depth=10)
    snap = dec.decode_frame((resources / "kraken_book_snapshot_depth10.json").read_bytes())
    (out,) = asm.apply_snapshot(dec.book_data(snap)[0], 0)
    assert isinstance(out, BookSnapshot)
    frames = (resources / "kraken_book_updates_depth10.json").read_text().strip()[1:-1]
    updates = [line.rstrip(",") for line in frames.strip().splitlines()]
    assert len(updates) == 5
    for raw in updates:
        frame = dec.decode_frame(raw)
        (result,) = asm.apply_diff(dec.book_data(frame)[0], 0)
        assert isinstance(result, BookUpdate)
    assert asm.last_checksum == dec.book_data(dec.decode_frame(updates[-1]))[0].checksum

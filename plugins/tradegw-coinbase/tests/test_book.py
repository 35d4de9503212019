"""The sans-I/O book: real captured snapshot + update, per-connection gap detection,
buffering, REST reconciliation, and a 2021 live level-2 session replayed as an applier test.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tradegw_coinbase.book import (
    CoinbaseBookAssembler,
    CoinbaseBookDiff,
    CoinbaseBookSnapshot,
    ConnectionSequence,
    SeqVerdict,
    stream_seq,
)
from tradegw_coinbase.parsing import decode_frame, l2_events, parse_product_book
from tradegw_coinbase.schemas import CoinbaseL2DataMsg, CoinbaseProductBookMsg

from tradegw_core.contracts import ResyncNeeded, ResyncReason
from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Level
from tradegw_core.schema.symbols import Symbol

BTC = Symbol("BTC-USD")
D = Decimal


def _l2(path: Path) -> CoinbaseL2DataMsg:
    msg = decode_frame(path.read_bytes())
    assert isinstance(msg, CoinbaseL2DataMsg)
    return msg


def _asm(max_buffer: int = 1000) -> CoinbaseBookAssembler:
    """BTC-USD: price step 0.01, size step 0.00000001 (the live product's increments)."""
    return CoinbaseBookAssembler(BTC, price_precision=2, qty_precision=8, max_buffer=max_buffer)


def _diff(seq: int, epoch: int, bids: list[tuple[str, str]] | None = None) -> CoinbaseBookDiff:
    return CoinbaseBookDiff(
        product_id="BTC-USD", bids=bids or [("68900.00", "9")], asks=[], seq=seq, epoch=epoch
    )


def test_real_snapshot_then_update(coinbase_data: Path) -> None:
    asm = _asm()
    (snap,) = l2_events(_l2(coinbase_data / "ws_l2_data_snapshot.json"), epoch=1)
    (diff,) = l2_events(_l2(coinbase_data / "ws_l2_data_update.json"), epoch=1)
    assert isinstance(snap, CoinbaseBookSnapshot)
    assert isinstance(diff, CoinbaseBookDiff)

    (event,) = asm.apply_snapshot(snap, ts_ingest=1)
    assert isinstance(event, BookSnapshot)
    assert asm.synced
    assert event.bids == (
        Level(D("68900.00"), D("1.5")),
        Level(D("68899.50"), D("0.75")),
        Level(D("68899.00"), D("2.3")),
    )
    assert [lv.price for lv in event.asks] == [D("68901.00"), D("68901.50"), D("68902.00")]
    assert event.seq_provider == stream_seq(1, 0)

    (update,) = asm.apply_diff(diff, ts_ingest=2)
    assert isinstance(update, BookUpdate)
    assert update.bids == (Level(D("68900.00"), D("2")),)
    assert update.asks == (Level(D("68901.00"), D("0")),)
    assert (update.prev_seq, update.first_seq, update.last_seq) == (
        stream_seq(1, 0),
        stream_seq(1, 1),
        stream_seq(1, 1),
    )
    # Absolute sizes replace, "0" removes.
    assert asm.book.bids[D("68900.00")] == D("2")
    assert D("68901.00") not in asm.book.asks
    assert asm.book.best_ask() == Level(D("68901.50"), D("1.2"))


def test_sequence_counts_every_channel_of_the_connection() -> None:
    seq = ConnectionSequence(itertools.count(1).__next__)
    # Live frames: a snapshot at 0, then acks, heartbeats and tickers share the counter.
    assert [seq.observe(n) for n in (0, 1, 2, 3)] == [SeqVerdict.OK] * 4
    assert seq.epoch == 1
    assert seq.observe(3) is SeqVerdict.STALE
    assert seq.observe(2) is SeqVerdict.STALE
    assert seq.observe(5) is SeqVerdict.GAP
    assert (seq.epoch, seq.gaps, seq.last_gap) == (2, 1, (4, 5))
    assert seq.observe(6) is SeqVerdict.OK
    seq.restart()
    assert seq.epoch == 3
    assert seq.observe(0) is SeqVerdict.OK  # a new connection starts over


def test_skipped_sequence_number_gives_resync_gap(coinbase_data: Path) -> None:
    epochs = itertools.count(1)
    conn = ConnectionSequence(epochs.__next__)
    asm = _asm()
    snap_msg = _l2(coinbase_data / "ws_l2_data_snapshot.json")  # sequence_num 0
    upd_msg = _l2(coinbase_data / "ws_l2_data_update.json")  # sequence_num 1
    assert conn.observe(snap_msg.sequence_num) is SeqVerdict.OK
    (snap,) = l2_events(snap_msg, epoch=conn.epoch)
    asm.apply_snapshot(snap, 0)  # type: ignore[arg-type]

    # The update arrives as 2: message 1 (on whatever channel) was lost.
    skipped = msgspec.structs.replace(upd_msg, sequence_num=2)
    assert conn.observe(skipped.sequence_num) is SeqVerdict.GAP
    (diff,) = l2_events(skipped, epoch=conn.epoch)
    (out,) = asm.apply_diff(diff, 0)  # type: ignore[arg-type]
    assert isinstance(out, ResyncNeeded)
    assert out.reason is ResyncReason.GAP
    assert out.symbol == BTC
    assert not asm.synced
    assert asm.gaps == 1
    assert asm.book.bids == {}  # dropped, never merged into

    # While unsynced diffs are buffered; the fresh in-band snapshot replaces the book.
    assert asm.apply_diff(_diff(3, conn.epoch), 0) == []
    conn.observe(3)
    conn.observe(4)
    fresh = msgspec.structs.replace(snap, seq=4, epoch=conn.epoch)
    (event,) = asm.apply_snapshot(fresh, 0)
    assert isinstance(event, BookSnapshot)
    assert asm.synced
    assert asm.book.bids[D("68900.00")] == D("1.50000000")  # diff 3 was older: dropped


def test_gap_on_another_channel_invalidates_the_book() -> None:
    conn = ConnectionSequence(itertools.count(1).__next__)
    asm = _asm()
    conn.observe(0)
    asm.apply_snapshot(
        CoinbaseBookSnapshot(
            product_id="BTC-USD", bids=[("1", "1")], asks=[("2", "1")], seq=0, epoch=conn.epoch
        ),
        0,
    )
    conn.observe(1)  # a ticker
    assert conn.observe(3) is SeqVerdict.GAP  # a heartbeat after a lost message
    (out,) = asm.apply_diff(_diff(4, conn.epoch), 0)  # the next book message, no seq jump
    assert isinstance(out, ResyncNeeded)
    assert out.reason is ResyncReason.GAP


def test_buffered_diffs_newer_than_the_snapshot_are_replayed() -> None:
    asm = _asm()
    assert asm.apply_diff(_diff(4, 1, [("10", "1")]), 0) == []
    assert asm.apply_diff(_diff(6, 1, [("11", "2")]), 0) == []
    assert asm.apply_diff(_diff(7, 9, [("12", "3")]), 0) == []  # other epoch: dropped
    snap = CoinbaseBookSnapshot(
        product_id="BTC-USD", bids=[("9", "5"), ("10", "4")], asks=[], seq=5, epoch=1
    )
    (event,) = asm.apply_snapshot(snap, 0)
    assert isinstance(event, BookSnapshot)
    assert event.bids == (Level(D("11"), D("2")), Level(D("10"), D("4")), Level(D("9"), D("5")))
    assert event.seq_provider == stream_seq(1, 6)
    # A repeat of an applied diff is ignored.
    assert asm.apply_diff(_diff(6, 1, [("11", "0")]), 0) == []
    assert asm.stale_dropped == 1


def test_buffer_is_bounded_and_an_overflow_past_the_snapshot_resyncs() -> None:
    asm = _asm(max_buffer=2)
    for n in range(1, 5):  # keeps diffs 3 and 4; 1 and 2 are dropped
        asm.apply_diff(_diff(n, 1, [(str(100 + n), "1")]), 0)
    empty = CoinbaseBookSnapshot(product_id="BTC-USD", bids=[], asks=[], seq=2, epoch=1)
    asm.apply_snapshot(empty, 0)
    assert sorted(asm.book.bids) == [D(103), D(104)]  # nothing newer than 2 was lost

    asm.reset()
    for n in range(1, 5):
        asm.apply_diff(_diff(n, 1, [(str(100 + n), "1")]), 0)
    (out,) = asm.apply_snapshot(msgspec.structs.replace(empty, seq=0), 0)
    assert isinstance(out, ResyncNeeded)  # diffs 1 and 2 were newer than seq 0: a hole
    assert out.reason is ResyncReason.GAP
    assert not asm.synced


def test_rest_product_book_never_seeds_the_book(coinbase_data: Path) -> None:
    msg = msgspec.json.decode(
        (coinbase_data / "http_product_book.json").read_bytes(), type=CoinbaseProductBookMsg
    )
    with pytest.raises(SchemaError, match="in-band"):
        _asm().apply_snapshot(parse_product_book(msg), 0)


def test_reconcile_counts_divergent_levels_against_rest_book(coinbase_data: Path) -> None:
    rest = parse_product_book(
        msgspec.json.decode(
            (coinbase_data / "http_product_book.json").read_bytes(), type=CoinbaseProductBookMsg
        )
    )
    asm = _asm()
    assert asm.reconcile(rest) == 0  # unsynced: nothing to compare
    # The stream's snapshot carries the same levels plus deeper ones REST did not return.
    deeper = [*rest.bids, ("60000", "1")]
    asm.apply_snapshot(msgspec.structs.replace(rest, bids=deeper, seq=0, epoch=1), 0)
    assert asm.reconcile(rest) == 0
    # One size changed, one level added inside the covered range, one level removed.
    asm.apply_diff(
        CoinbaseBookDiff(
            product_id="BTC-USD",
            bids=[("68923.66", "0.5"), ("68923.50", "1"), ("68923", "0")],
            asks=[],
            seq=1,
            epoch=1,
        ),
        0,
    )
    assert asm.reconcile(rest) == 3
    before = dict(asm.book.bids)
    asm.reconcile(rest)
    assert asm.book.bids == before  # read-only


def _exchange_frames(path: Path) -> list[dict[str, object]]:
    frames = []
    with path.open() as fh:
        for line in fh:
            if line[:1].isdigit():
                frames.append(json.loads(line.partition(": ")[2]))
    return frames


def test_live_2021_level2_session_keeps_books_consistent(cryptofeed_data: Path) -> None:
    """Replay the 2021 Coinbase Exchange capture (test-vectors 5.3) through the level applier.

    That feed has no sequence on ``l2update``; each frame gets the next connection number.
    A correct applier never crosses a book, and its best bid/ask agree with the venue's own
    ``ticker`` frames of the same session almost always (channels are not synchronised).
    """
    books: dict[str, CoinbaseBookAssembler] = {}
    crossed = agree = disagree = updates = 0
    for seq, frame in enumerate(_exchange_frames(cryptofeed_data / "COINBASE.ws.28.0"), 1):
        kind, pid = frame["type"], str(frame.get("product_id", ""))
        if kind == "snapshot":
            asm = books.setdefault(
                pid, CoinbaseBookAssembler(Symbol(pid), price_precision=8, qty_precision=8)
            )
            bids = [(p, q) for p, q in frame["bids"]]  # type: ignore[attr-defined]
            asks = [(p, q) for p, q in frame["asks"]]  # type: ignore[attr-defined]
            snap = CoinbaseBookSnapshot(product_id=pid, bids=bids, asks=asks, seq=seq, epoch=1)
            asm.apply_snapshot(snap, 0)
        elif kind == "l2update":
            changes = frame["changes"]
            diff = CoinbaseBookDiff(
                product_id=pid,
                bids=[(p, q) for s, p, q in changes if s == "buy"],  # type: ignore[attr-defined]
                asks=[(p, q) for s, p, q in changes if s == "sell"],  # type: ignore[attr-defined]
                seq=seq,
                epoch=1,
            )
            (out,) = books[pid].apply_diff(diff, 0)
            assert isinstance(out, BookUpdate)
            updates += 1
            bb, ba = books[pid].book.best_bid(), books[pid].book.best_ask()
            crossed += bb is not None and ba is not None and bb.price >= ba.price
        elif kind == "ticker" and pid in books:
            bb, ba = books[pid].book.best_bid(), books[pid].book.best_ask()
            assert bb is not None
            assert ba is not None
            same = (bb.price, ba.price) == (D(str(frame["best_bid"])), D(str(frame["best_ask"])))
            agree += same
            disagree += not same
    assert len(books) == 10
    assert updates == 9719
    assert crossed == 0
    assert agree + disagree == 107
    assert agree >= 0.9 * 107

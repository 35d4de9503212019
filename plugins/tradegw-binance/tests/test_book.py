"""Book assembler: documented example, sequence rules, and replay of real captures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
import pytest
from tradegw_binance.book import BinanceBookAssembler
from tradegw_binance.decoding import decode_depth_snapshot, decode_stream_frame
from tradegw_binance.schemas import BinanceDepthDiffMsg, BinanceDepthSnapshotMsg

from tradegw_core.contracts import ResyncNeeded, ResyncReason
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Level
from tradegw_core.schema.symbols import Symbol

D = Decimal
SYM = Symbol("BTC-USDT")


def snap(last_id: int, bids: list[list[str]], asks: list[list[str]]) -> BinanceDepthSnapshotMsg:
    return msgspec.convert(
        {"lastUpdateId": last_id, "bids": bids, "asks": asks}, BinanceDepthSnapshotMsg
    )


def diff(
    first: int, last: int, b: list[list[str]] = (), a: list[list[str]] = ()
) -> BinanceDepthDiffMsg:  # type: ignore[assignment]
    return msgspec.convert(
        {
            "e": "depthUpdate",
            "E": 1700000000100,
            "s": "BTCUSDT",
            "U": first,
            "u": last,
            "b": list(b),
            "a": list(a),
        },
        BinanceDepthDiffMsg,
    )


def new_asm() -> BinanceBookAssembler:
    return BinanceBookAssembler(SYM, "BTCUSDT")


# -- documented example (binance.md sections 1.4 and 3) ----------------------------------


def test_documented_snapshot_then_diff_gives_the_right_top_of_book() -> None:
    asm = new_asm()
    assert (
        asm.apply_diff(
            diff(
                4100, 4103, [["37000.01000000", "0.25000000"]], [["37000.50000000", "0.00000000"]]
            ),
            1,
        )
        == ()
    )
    out = asm.apply_snapshot(
        snap(4099, [["37000.01000000", "0.40000000"]], [["37000.02000000", "1.10000000"]]), 2
    )
    assert len(out) == 1
    assert isinstance(out[0], BookSnapshot)
    assert out[0].seq_provider == 4103
    assert out[0].bids == (Level(D("37000.01"), D("0.25")),)
    assert out[0].asks == (Level(D("37000.02"), D("1.10")),)
    assert asm.synced
    assert asm.last_update_id == 4103


def test_live_diff_emits_update_with_sequence_fields_and_deletes_zero_levels() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"], ["99", "2"]], [["101", "1"]]), 0)
    (upd,) = asm.apply_diff(diff(11, 13, [["100", "0.00000000"]], [["100.5", "3"]]), 5)
    assert isinstance(upd, BookUpdate)
    assert (upd.first_seq, upd.last_seq, upd.prev_seq) == (11, 13, 10)
    assert upd.bids == (Level(D(100), D(0)),)
    assert asm.book.best_bid() == Level(D(99), D(2))
    assert asm.book.best_ask() == Level(D("100.5"), D(3))
    (upd2,) = asm.apply_diff(diff(14, 14, [["99", "5"]]), 6)
    assert isinstance(upd2, BookUpdate)
    assert upd2.prev_seq == 13


def test_missing_update_gives_resync_needed_gap_and_buffers_again() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"]], [["101", "1"]]), 0)
    asm.apply_diff(diff(11, 12, [["100", "2"]]), 1)
    (out,) = asm.apply_diff(diff(14, 15, [["100", "3"]]), 2)  # 13 is missing
    assert isinstance(out, ResyncNeeded)
    assert out.reason is ResyncReason.GAP
    assert out.symbol == SYM
    assert "expected U <= 13" in out.detail
    assert not asm.synced
    assert asm.buffered == 1
    # Nothing reaches consumers until a consistent snapshot; the next one re-syncs.
    assert asm.apply_diff(diff(16, 16, [["100", "4"]]), 3) == ()
    (snap_ev,) = asm.apply_snapshot(snap(15, [["100", "3"]], [["101", "1"]]), 4)
    assert isinstance(snap_ev, BookSnapshot)
    assert snap_ev.seq_provider == 16
    assert asm.book.best_bid() == Level(D(100), D(4))


def test_stale_snapshot_older_than_stream_start_asks_for_another_and_keeps_buffer() -> None:
    asm = new_asm()
    asm.apply_diff(diff(200, 202, [["100", "1"]]), 1)
    asm.apply_diff(diff(203, 203, [["100", "2"]]), 2)
    (out,) = asm.apply_snapshot(snap(150, [["100", "9"]], [["101", "1"]]), 3)
    assert isinstance(out, ResyncNeeded)
    assert "stale snapshot" in out.detail
    assert not asm.synced
    assert asm.buffered == 2
    (ok,) = asm.apply_snapshot(snap(201, [["100", "9"]], [["101", "1"]]), 4)
    assert isinstance(ok, BookSnapshot)
    assert ok.seq_provider == 203
    assert asm.book.best_bid() == Level(D(100), D(2))


def test_first_event_rule_accepts_u_equal_last_update_id_plus_one() -> None:
    """The normal real alignment U == lastUpdateId + 1 (the docs' literal text rejects it)."""
    asm = new_asm()
    asm.apply_snapshot(snap(4099, [["1", "1"]], [["2", "1"]]), 0)
    (upd,) = asm.apply_diff(diff(4100, 4100, [["1", "3"]]), 1)
    assert isinstance(upd, BookUpdate)


def test_diffs_already_in_the_snapshot_are_dropped_not_reapplied() -> None:
    asm = new_asm()
    asm.apply_diff(diff(5, 8, [["100", "7"]]), 0)  # u <= lastUpdateId: already in snapshot
    asm.apply_diff(diff(9, 10, [["99", "1"]]), 0)
    (ev,) = asm.apply_snapshot(snap(8, [["100", "0.5"]], [["101", "1"]]), 1)
    assert isinstance(ev, BookSnapshot)
    assert asm.book.as_decimals()[0] == {D(100): D("0.5"), D(99): D(1)}
    # A duplicate of an applied diff is ignored once synced.
    assert asm.apply_diff(diff(9, 10, [["99", "5"]]), 2) == ()
    assert asm.book.as_decimals()[0][D(99)] == D(1)


def test_gap_inside_buffered_diffs_is_detected_at_snapshot_time() -> None:
    asm = new_asm()
    asm.apply_diff(diff(11, 12), 0)
    asm.apply_diff(diff(15, 16), 0)
    (out,) = asm.apply_snapshot(snap(10, [], []), 1)
    assert isinstance(out, ResyncNeeded)
    assert "gap in buffered diffs" in out.detail
    assert not asm.synced


def test_empty_diff_advances_the_id_without_an_event() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"]], []), 0)
    assert asm.apply_diff(diff(11, 11), 1) == ()
    (upd,) = asm.apply_diff(diff(12, 12, [["100", "2"]]), 2)
    assert isinstance(upd, BookUpdate)
    assert upd.prev_seq == 10
    assert upd.first_seq == 12


def test_buffer_overflow_drops_oldest_and_counts() -> None:
    asm = BinanceBookAssembler(SYM, "BTCUSDT", max_buffer=3)
    for i in range(1, 6):
        asm.apply_diff(diff(i, i, [["100", str(i)]]), 0)
    assert asm.buffered == 3
    assert asm.buffer_dropped == 2
    (out,) = asm.apply_snapshot(snap(1, [], []), 0)  # 2 was dropped: cannot align
    assert isinstance(out, ResyncNeeded)
    (ok,) = asm.apply_snapshot(snap(2, [], []), 0)
    assert isinstance(ok, BookSnapshot)
    assert asm.book.as_decimals()[0] == {D(100): D(5)}


def test_reset_forgets_the_book() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"]], [["101", "1"]]), 0)
    asm.reset()
    assert not asm.synced
    assert asm.last_update_id is None
    assert not asm.book.as_decimals()[0]


def test_reconcile_counts_divergent_levels_after_rolling_the_snapshot_forward() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"], ["99", "1"]], [["101", "1"], ["102", "1"]]), 0)
    asm.record_history(True)  # the provider does this before fetching the fresh snapshot
    asm.apply_diff(diff(11, 11, [["100", "2"]]), 0)
    asm.apply_diff(diff(12, 12, [], [["101", "0"]]), 0)
    fresh_same = snap(11, [["100", "2"], ["99", "1"]], [["101", "1"], ["102", "1"]])
    assert asm.can_reconcile(fresh_same)
    assert asm.reconcile(fresh_same) == 0
    # The venue says 99 has 3 and 98 exists (within the covered range): 2 divergences.
    fresh_bad = snap(12, [["100", "2"], ["99", "3"], ["98", "1"]], [["102", "1"]])
    assert asm.reconcile(fresh_bad) == 2
    assert asm.book.as_decimals()[0] == {D(100): D(2), D(99): D(1)}  # reconcile: read-only
    assert not asm.can_reconcile(snap(13, [], []))  # ahead of the local book: wait
    asm.record_history(False)  # no history kept outside a reconcile
    assert not asm.can_reconcile(fresh_same)


def test_reconcile_ignores_levels_beyond_the_snapshot_depth() -> None:
    asm = new_asm()
    asm.apply_snapshot(snap(10, [["100", "1"], ["90", "1"]], [["101", "1"], ["120", "1"]]), 0)
    assert asm.reconcile(snap(10, [["100", "1"]], [["101", "1"]])) == 0


# -- replay of real captures (test-vectors.md section 6) ---------------------------------


@dataclass
class Replay:
    last_update_id: int
    first_kept: tuple[int, int] | None = None
    updates: list[BookUpdate] = field(default_factory=list)
    snapshot: BookSnapshot | None = None
    resyncs: list[ResyncNeeded] = field(default_factory=list)
    asm: BinanceBookAssembler | None = None


EXPECTED = {
    "NKNUSDT": (499869752, (499869753, 499869754), 149),
    "BLZETH": (281916627, (281916628, 281916628), 9),
    "LRCBTC": (259345543, (259345544, 259345545), 13),
    "RUNEEUR": (15602511, (15602512, 15602513), 1),
    "COMPUSDT": (113129219, (113129220, 113129220), 106),
    "OMGBUSD": (77819467, (77819468, 77819468), 158),
    "CRVUSDT": (1938834, (1938835, 1938836), 28),
    "ZRXUSDT": (96974986, (96974987, 96974988), 40),
    "XEMUSDT": (542937458, (542937459, 542937459), 30),
    "LTCBRL": (126821978, (126821979, 126821979), 17),
    "BELBTC": (396548039, (396548040, 396548045), 31),
}


def replay(
    venue: str,
    ws_capture: Callable[[str], list],
    http_capture: Callable[[str], list],
    drop_after_sync: int | None = None,
) -> dict[str, Replay]:
    """Feed diffs and snapshots to one assembler per symbol in receive-time order."""
    snapshots = {}
    for ans in http_capture(f"cryptofeed/{venue}.http.0.0"):
        sym = ans.url.split("symbol=")[1].split("&")[0]
        snapshots[sym] = (ans.ts, decode_depth_snapshot(ans.body))
    results = {s: Replay(m.lastUpdateId) for s, (_, m) in snapshots.items()}
    asms = {s: BinanceBookAssembler(Symbol(s), s, max_buffer=5000) for s in snapshots}
    pending = dict(snapshots)
    live_seen: dict[str, int] = {}

    def take_snapshots(now: float) -> None:
        for s, (ts, m) in list(pending.items()):
            if ts <= now:
                del pending[s]
                for out in asms[s].apply_snapshot(m, 0):
                    if isinstance(out, BookSnapshot):
                        results[s].snapshot = out
                    elif isinstance(out, ResyncNeeded):
                        results[s].resyncs.append(out)

    for frame in ws_capture(f"cryptofeed/{venue}.ws.1.0"):
        take_snapshots(frame.ts)
        env = decode_stream_frame(frame.text)
        if "@depth" not in env.stream:
            continue
        d = msgspec.json.decode(env.data, type=BinanceDepthDiffMsg)
        if d.s not in asms:
            continue
        r = results[d.s]
        if r.first_kept is None and d.u > r.last_update_id:
            r.first_kept = (d.U, d.u)
        if asms[d.s].synced:
            live_seen[d.s] = live_seen.get(d.s, 0) + 1
            if drop_after_sync is not None and live_seen[d.s] == drop_after_sync:
                continue
        for out in asms[d.s].apply_diff(d, 0):
            if isinstance(out, BookUpdate):
                r.updates.append(out)
            elif isinstance(out, ResyncNeeded):
                r.resyncs.append(out)
    take_snapshots(float("inf"))
    for s, r in results.items():
        r.asm = asms[s]
    return results


@pytest.mark.parametrize("venue", ["BINANCE", "BINANCE_US", "BINANCE_TR"])
def test_real_capture_replay_aligns_every_symbol_with_zero_gaps(
    venue: str, ws_capture: Callable[[str], list], http_capture: Callable[[str], list]
) -> None:
    results = replay(venue, ws_capture, http_capture)
    assert results
    for sym, r in results.items():
        last_id, first_kept, applied = EXPECTED[sym]
        assert r.last_update_id == last_id
        assert r.resyncs == [], f"{sym}: {r.resyncs}"
        assert r.snapshot is not None
        assert r.asm is not None
        assert r.asm.synced
        assert r.first_kept == first_kept
        assert first_kept[0] == last_id + 1  # U == lastUpdateId + 1, as the notes say
        assert r.asm.diffs_applied == applied
        # Continuity for consumers: each update's prev_seq is the previous emitted seq.
        prev = r.snapshot.seq_provider
        for upd in r.updates:
            assert upd.prev_seq == prev
            assert upd.first_seq == upd.prev_seq + 1
            prev = upd.last_seq
        best_bid, best_ask = r.asm.book.best_bid(), r.asm.book.best_ask()
        assert best_bid is not None
        assert best_ask is not None
        assert best_bid.price < best_ask.price, f"{sym}: crossed book"


def test_real_capture_matches_a_naive_reference_book(
    ws_capture: Callable[[str], list], http_capture: Callable[[str], list]
) -> None:
    """Snapshot + every diff with u > lastUpdateId, applied naively, equals the assembler."""
    results = replay("BINANCE_US", ws_capture, http_capture)
    frames = ws_capture("cryptofeed/BINANCE_US.ws.1.0")
    for ans in http_capture("cryptofeed/BINANCE_US.http.0.0"):
        body = json.loads(ans.body)
        sym = ans.url.split("symbol=")[1].split("&")[0]
        bids = {D(p): D(q) for p, q in body["bids"]}
        asks = {D(p): D(q) for p, q in body["asks"]}
        for f in frames:
            data = json.loads(f.text).get("data", {})
            if (
                data.get("e") == "depthUpdate"
                and data["s"] == sym
                and data["u"] > body["lastUpdateId"]
            ):
                for side, key in ((bids, "b"), (asks, "a")):
                    for p, q in data[key]:
                        side[D(p)] = D(q)
                        if D(q) == 0:
                            del side[D(p)]
        asm = results[sym].asm
        assert asm is not None
        assert asm.book.as_decimals()[0] == bids, sym
        assert asm.book.as_decimals()[1] == asks, sym


def test_real_capture_with_one_dropped_diff_is_detected_as_a_gap(
    ws_capture: Callable[[str], list], http_capture: Callable[[str], list]
) -> None:
    results = replay("BINANCE", ws_capture, http_capture, drop_after_sync=5)
    r = results["NKNUSDT"]
    assert len(r.resyncs) == 1
    assert r.resyncs[0].reason is ResyncReason.GAP
    assert r.asm is not None
    assert not r.asm.synced


def test_reconcile_against_the_same_real_snapshot_finds_no_divergence(
    http_capture: Callable[[str], list],
) -> None:
    (ans, *_) = http_capture("cryptofeed/BINANCE.http.0.0")
    msg = decode_depth_snapshot(ans.body)
    asm = BinanceBookAssembler(Symbol("NKN-USDT"), "NKNUSDT")
    asm.apply_snapshot(msg, 0)
    assert asm.reconcile(msg) == 0
    assert len(asm.book.as_decimals()[0]) == len(msg.bids)


def test_emulator_recorded_depth_replays_with_zero_gaps() -> None:
    """Snapshot + diffs recorded from this project's emulator (tests/resources)."""
    from pathlib import Path

    doc = json.loads(
        (Path(__file__).resolve().parent / "resources" / "binance_depth_emulator.json").read_text()
    )
    snapshot = msgspec.convert(doc["snapshot"], BinanceDepthSnapshotMsg)
    asm = BinanceBookAssembler(SYM, "BTCUSDT")
    outputs = []
    for frame in doc["frames"]:
        outputs += asm.apply_diff(msgspec.convert(frame["data"], BinanceDepthDiffMsg), 0)
    outputs += asm.apply_snapshot(snapshot, 0)
    assert [type(o) for o in outputs] == [BookSnapshot]
    bids = {D(p): D(q) for p, q in doc["snapshot"]["bids"]}
    asks = {D(p): D(q) for p, q in doc["snapshot"]["asks"]}
    for frame in doc["frames"]:
        data = frame["data"]
        if data["u"] <= snapshot.lastUpdateId:
            continue
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in data[key]:
                side[D(p)] = D(q)
                if D(q) == 0:
                    del side[D(p)]
    assert asm.book.as_decimals()[0] == bids
    assert asm.book.as_decimals()[1] == asks
    assert asm.last_update_id == doc["frames"][-1]["data"]["u"]

"""Kraken CRC32: documented vectors and every checksum of real captures reproduce exactly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tradegw_kraken.book import KrakenBookAssembler
from tradegw_kraken.checksum import book_checksum, checksum_text, digits
from tradegw_kraken.schemas import KrakenBookMsg, KrakenLevelMsg
from tradegw_kraken.symbols import (
    KrakenSymbolMap,
    decode_asset_pairs,
    pairs_from_asset_pairs,
)

from tradegw_core.contracts import ResyncNeeded
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Level
from tradegw_core.schema.symbols import Instrument

BookMsgFactory = Callable[..., KrakenBookMsg]


def _levels(rows: list[tuple[str, str]]) -> list[Level]:
    return [Level(Decimal(p), Decimal(q)) for p, q in rows]


# test-vectors.md 2.1 (Kraken v2 book-checksum guide, BTC/USD)
GUIDE_ASKS = [
    ("45285.2", "0.00100000"), ("45286.4", "1.54571953"), ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"), ("45290.2", "0.15890660"), ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"), ("45296.1", "0.35380000"), ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]  # fmt: skip
GUIDE_BIDS = [
    ("45283.5", "0.10000000"), ("45283.4", "1.54582015"), ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"), ("45280.3", "1.54592586"), ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"), ("45277.5", "0.30000000"), ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]  # fmt: skip
GUIDE_TEXT = (
    "4528521000004528641545719534528661545711094528961545609114529021589066045291815455349145"
    "2947445474945296135380000452975994554245299518772827452835100000004528341545820154528211"
    "0000000452810100000004528031545925864527907990000452776331010345277530000000452773154602"
    "73745276615445238"
)


def test_digits_follow_precision_not_the_printed_text() -> None:
    assert digits(Decimal("45281.0"), 1) == "452810"
    assert digits(Decimal("0.10000000"), 8) == "10000000"
    assert digits(Decimal("0.12290"), 5) == "12290"
    assert digits(Decimal("0.566"), 4) == "5660"
    assert digits(Decimal("0.05000"), 5) == "5000"
    assert digits(Decimal("0.00000304"), 8) == "304"


def test_v2_guide_example_text_and_value() -> None:
    asks, bids = _levels(GUIDE_ASKS), _levels(GUIDE_BIDS)
    assert checksum_text(asks, bids, 1, 8) == GUIDE_TEXT
    assert book_checksum(asks, bids, 1, 8) == 3310070434


def test_v1_guide_example() -> None:
    # test-vectors.md 2.2: asks 0.05005..0.05050, bids without 0.04985, every qty 0.00000500.
    asks = [
        Level(Decimal("0.05005") + Decimal("0.00005") * i, Decimal("0.00000500")) for i in range(10)
    ]
    bid_prices = ["0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965",
                  "0.04960", "0.04955", "0.04950"]  # fmt: skip
    bids = [Level(Decimal(p), Decimal("0.00000500")) for p in bid_prices]
    assert book_checksum(asks, bids, 5, 8) == 974947235


def test_only_top_ten_levels_count() -> None:
    asks, bids = _levels(GUIDE_ASKS), _levels(GUIDE_BIDS)
    deeper_asks = [*asks, Level(Decimal("45300.0"), Decimal("9"))]
    deeper_bids = [*bids, Level(Decimal("45270.0"), Decimal("9"))]
    assert book_checksum(deeper_asks, deeper_bids, 1, 8) == 3310070434


# test-vectors.md 2.3: live v2 ALGO/USD frames, 2024-10-03 (values exactly as on the wire).
ALGO_SNAPSHOT = (
    '{"channel":"book","type":"snapshot","data":[{"symbol":"ALGO/USD","bids":['
    '{"price":0.12291,"qty":27039.62776299},{"price":0.12290,"qty":8136.33288180},'
    '{"price":0.12287,"qty":10984.20817349},{"price":0.12283,"qty":28027.05025639},'
    '{"price":0.12280,"qty":9705.60000000},{"price":0.12279,"qty":15215.53522714},'
    '{"price":0.12275,"qty":4067.00000000},{"price":0.12274,"qty":30639.39949109},'
    '{"price":0.12268,"qty":2531.96119986},{"price":0.12267,"qty":16299.00000000}],"asks":['
    '{"price":0.12307,"qty":600.00000000},{"price":0.12308,"qty":4042.11919517},'
    '{"price":0.12312,"qty":10284.53891000},{"price":0.12314,"qty":16155.08885299},'
    '{"price":0.12315,"qty":5186.05778473},{"price":0.12316,"qty":32828.24000000},'
    '{"price":0.12317,"qty":7751.65718582},{"price":0.12318,"qty":32298.82000000},'
    '{"price":0.12319,"qty":1864.66899600},{"price":0.12322,"qty":4718.99755630}],'
    '"checksum":2375857985}]}'
)
ALGO_UPDATE = (
    '{"channel":"book","type":"update","data":[{"symbol":"ALGO/USD","bids":[{"price":0.12275,'
    '"qty":6597.51731160}],"asks":[],"checksum":1100635717,'
    '"timestamp":"2024-10-03T02:46:57.050170Z"}]}'
)


def _entries(frame: str) -> list[KrakenBookMsg]:
    raw = json.loads(frame)["data"]
    return msgspec.json.decode(json.dumps(raw), type=list[KrakenBookMsg])


def test_live_v2_algo_frames_verify_through_the_assembler(ws_symbols: KrakenSymbolMap) -> None:
    inst = ws_symbols.instrument("ALGO-USD")
    assert (inst.price_precision, inst.qty_precision) == (5, 8)
    asm = KrakenBookAssembler(inst, depth=10)
    (snap,) = asm.apply_snapshot(_entries(ALGO_SNAPSHOT)[0], ts_ingest=1)
    assert isinstance(snap, BookSnapshot)
    assert snap.checksum == 2375857985
    (upd,) = asm.apply_diff(_entries(ALGO_UPDATE)[0], ts_ingest=2)
    assert isinstance(upd, BookUpdate)
    assert upd.checksum == 1100635717
    assert upd.ts_exchange == 1727923617050170000
    assert asm.book.bids[Decimal("0.12275")] == Decimal("6597.51731160")


def test_float_round_trip_breaks_the_live_checksum() -> None:
    # Negative control (test-vectors 2.3): the same frame through binary floats.
    raw = json.loads(ALGO_SNAPSHOT)["data"][0]
    asks = [Level(Decimal(str(x["price"])), Decimal(str(x["qty"]))) for x in raw["asks"]]
    bids = [Level(Decimal(str(x["price"])), Decimal(str(x["qty"]))) for x in raw["bids"]]
    text = "".join(f"{lv.price}{lv.qty}".replace(".", "").lstrip("0") for lv in [*asks, *bids])
    assert text != checksum_text(asks, bids, 5, 8)


MATIC_BIDS = [
    ("0.5666", "4831.75496356"), ("0.5665", "6658.22734739"), ("0.5664", "18724.91513344"),
    ("0.5663", "11563.92544914"), ("0.5662", "14006.65365711"), ("0.5661", "17454.85679807"),
    ("0.566", "18097.1547"), ("0.5659", "33644.89175666"), ("0.5658", "148.3464"),
    ("0.5657", "606.70854372"),
]  # fmt: skip
MATIC_ASKS = [
    ("0.5668", "4410.79769741"), ("0.5669", "4655.40412487"), ("0.567", "49844.89424998"),
    ("0.5671", "24306.41678"), ("0.5672", "29783.25223475"), ("0.5673", "57234.71239278"),
    ("0.5674", "45065.04744"), ("0.5675", "5912.76380354"), ("0.5676", "42514.92434778"),
    ("0.5677", "36304.0847022"),
]  # fmt: skip


def test_api_reference_matic_example_needs_precision_formatting(
    ws_symbols: KrakenSymbolMap, make_book_msg: BookMsgFactory
) -> None:
    # test-vectors.md 2.4: printed without trailing zeros; only 4/8 decimals reproduce.
    inst = ws_symbols.instrument("MATIC-USD")
    assert (inst.price_precision, inst.qty_precision) == (4, 8)
    asm = KrakenBookAssembler(inst, depth=10)
    (snap,) = asm.apply_snapshot(
        make_book_msg("MATIC/USD", MATIC_BIDS, MATIC_ASKS, 2439117997), ts_ingest=0
    )
    assert isinstance(snap, BookSnapshot)
    (upd,) = asm.apply_diff(
        make_book_msg("MATIC/USD", [("0.5657", "1098.3947558")], [], 2114181697), ts_ingest=0
    )
    assert isinstance(upd, BookUpdate)
    # Negative control: hashing the printed text gives the values the reference warns about.
    printed = "".join((p + q).replace(".", "").lstrip("0") for p, q in [*MATIC_ASKS, *MATIC_BIDS])
    import zlib

    assert zlib.crc32(printed.encode()) == 3830085102


def test_gst_snapshot_from_kraken_data_recorder(
    ws_symbols: KrakenSymbolMap, make_book_msg: BookMsgFactory
) -> None:
    # test-vectors.md 2.5: depth 10, price precision 3 (0.010 -> "10").
    asks = [("0.017", "94510.50669693"), ("0.018", "232489.98702916"),
            ("0.019", "244770.01655926"), ("0.020", "103394.23779803"),
            ("0.021", "120226.44704447"), ("0.022", "122811.44535027"),
            ("0.023", "185766.68965043"), ("0.024", "95339.83830809"),
            ("0.025", "32960.86333331"), ("0.026", "86326.77204454")]  # fmt: skip
    bids = [("0.016", "255965.95133811"), ("0.015", "264465.46682136"),
            ("0.014", "198234.50375152"), ("0.013", "263077.71115063"),
            ("0.012", "135283.23181445"), ("0.011", "232726.34707055"),
            ("0.010", "211909.56878553"), ("0.009", "16666.66666666"),
            ("0.008", "13600.00000000"), ("0.007", "1000.00000000")]  # fmt: skip
    inst = ws_symbols.instrument("GST-USD")
    asm = KrakenBookAssembler(inst, depth=10)
    (snap,) = asm.apply_snapshot(make_book_msg("GST/USD", bids, asks, 1931231958), 0)
    assert isinstance(snap, BookSnapshot)
    assert snap.bids[0].price == Decimal("0.016")
    assert snap.asks[0].price == Decimal("0.017")


# test-vectors.md 2.7 / 2.8: the full live v1 session (depth 1000, 10 pairs).


def _v1_entry(frame: list[object]) -> tuple[str, KrakenBookMsg, bool]:
    name = str(frame[-1])
    bids: list[KrakenLevelMsg] = []
    asks: list[KrakenLevelMsg] = []
    checksum: int | None = None
    snapshot = False
    for part in frame[1:-2]:
        assert isinstance(part, dict)
        for key, value in part.items():
            if key in ("as", "a"):
                asks += [KrakenLevelMsg(Decimal(x[0]), Decimal(x[1])) for x in value]
            elif key in ("bs", "b"):
                bids += [KrakenLevelMsg(Decimal(x[0]), Decimal(x[1])) for x in value]
            elif key == "c":
                checksum = int(value)
            snapshot = snapshot or key in ("as", "bs")
    return name, KrakenBookMsg(symbol=name, bids=bids, asks=asks, checksum=checksum), snapshot


def _wire_precision(msg: KrakenBookMsg) -> tuple[int, int]:
    level = msg.asks[0]
    return -level.price.as_tuple().exponent, -level.qty.as_tuple().exponent  # type: ignore[operator]


def _replay_v1(
    shared_data: Path,
    frames: Callable[[Path], Iterator[list[object]]],
) -> tuple[list[int], list[ResyncNeeded], dict[str, KrakenBookAssembler]]:
    capture = shared_data / "cryptofeed" / "KRAKEN.ws.50.0"
    rest = shared_data / "cryptofeed" / "KRAKEN.0"
    if not capture.is_file() or not rest.is_file():
        pytest.skip("cryptofeed KRAKEN.ws.50.0 / KRAKEN.0 captures are absent")
    body = rest.read_text().splitlines()[0].split(": ", 1)[1]
    symbols = KrakenSymbolMap(pairs_from_asset_pairs(decode_asset_pairs(body)))
    assemblers: dict[str, KrakenBookAssembler] = {}
    verified: list[int] = []
    failures: list[ResyncNeeded] = []
    for frame in frames(capture):
        name, msg, snapshot = _v1_entry(frame)
        if name not in assemblers:
            # The 2021 v1 wire wrote more decimals than REST pair_decimals (XMR/USD: 8 vs 2)
            # and Kraken checksummed that wire text: take the precision from the snapshot.
            inst: Instrument = symbols.instrument(symbols.to_canonical(name))
            pp, qp = _wire_precision(msg)
            inst = msgspec.structs.replace(inst, price_precision=pp, qty_precision=qp)
            assemblers[name] = KrakenBookAssembler(inst, 1000, require_checksum=False)
        asm = assemblers[name]
        out = asm.apply_snapshot(msg, 0) if snapshot else asm.apply_diff(msg, 0)
        if msg.checksum is not None:
            bad = [o for o in out if isinstance(o, ResyncNeeded)]
            failures += bad
            if not bad:
                verified.append(msg.checksum)
    return verified, failures, assemblers


def test_first_live_v1_checksum_xmr(
    shared_data: Path, v1_frames: Callable[[Path], Iterator[list[object]]]
) -> None:
    verified, failures, assemblers = _replay_v1(shared_data, v1_frames)
    assert failures == []
    assert 2583817756 in verified
    assert set(assemblers) == {
        "WAVES/EUR", "XMR/USD", "KSM/XBT", "GRT/ETH", "SC/EUR", "ETH/CHF", "OCEAN/XBT",
        "OMG/USD", "XBT/CHF", "ADA/XBT",
    }  # fmt: skip
    assert assemblers["XBT/CHF"].book.best_bid() is not None


def test_full_live_v1_session_reproduces_all_4269_checksums(
    shared_data: Path, v1_frames: Callable[[Path], Iterator[list[object]]]
) -> None:
    verified, failures, assemblers = _replay_v1(shared_data, v1_frames)
    assert len(verified) == 4269
    assert failures == []
    assert all(a.synced for a in assemblers.values())
    assert all(len(a.book.bids) <= 1000 and len(a.book.asks) <= 1000 for a in assemblers.values())

"""Sane values at the edge: what a Binance number string may be, and what the book refuses.

Each hostile value case of the hostile-input issue: NaN / sNaN / Infinity, non-numeric
text, full-width Unicode digits, negative, zero prices, beyond 8 decimals, absurd length;
a book never kept crossed; snapshots and buffered diffs validated the same way.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from tradegw_binance.book import BinanceBookAssembler
from tradegw_binance.schemas import BinanceDepthDiffMsg, BinanceDepthSnapshotMsg
from tradegw_binance.values import FrameRejected, ValueCache, parse_ticks, strict_decimal

from tradegw_core.schema.events import BookSnapshot, BookUpdate
from tradegw_core.schema.symbols import Symbol

FULL_WIDTH_123 = "\uff11\uff12\uff13"
"""Full-width digits: ``int()`` and ``Decimal()`` would read them as 123."""

BAD_NUMBERS = [
    "NaN",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    FULL_WIDTH_123,
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "1.\uff15",
    "-1",
    "-0.5",
    "+1",
    "1e5",
    "1E-3",
    " 1",
    "1 ",
    "1_000",
    "",
    ".",
    ".5",
    "1.",
    "1.2.3",
    "0x10",
    "abc",
    "0.000000001",  # a ninth decimal: beyond the venue's precision
    "1" * 31,  # too many digits
]


@pytest.mark.parametrize("text", BAD_NUMBERS)
def test_malformed_numbers_are_refused_as_value_rejections(text: str) -> None:
    for positive in (True, False):
        with pytest.raises(FrameRejected) as info:
            parse_ticks(text, 8, positive=positive)
        assert info.value.reason == "value"


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("0.35130000", 35_130_000),
        ("6195.00000000", 619_500_000_000),
        ("59999.98", 5_999_998_000_000),
        ("7", 700_000_000),
        ("0.000000010", 1),  # trailing zeros past the precision are harmless
        ("0", 0),
    ],
)
def test_plain_decimals_become_exact_ticks(text: str, ticks: int) -> None:
    assert parse_ticks(text, 8, positive=False) == ticks
    assert strict_decimal(text) == Decimal(text)


def test_prices_must_be_positive_quantities_may_be_zero() -> None:
    with pytest.raises(FrameRejected, match="> 0"):
        parse_ticks("0.00000000", 8, positive=True)
    assert parse_ticks("0.00000000", 8, positive=False) == 0


def test_the_value_cache_remembers_valid_strings_only_and_stays_bounded() -> None:
    cache = ValueCache(8, positive=True, max_entries=3)
    assert cache.get("1.5") is None
    assert cache.parse("1.5") == (150_000_000, Decimal("1.5"))
    assert cache.get("1.5") == (150_000_000, Decimal("1.5"))
    with pytest.raises(FrameRejected):
        cache.parse("NaN")
    assert cache.get("NaN") is None
    for text in ("2", "3", "4"):
        cache.parse(text)
    assert len(cache) <= 3  # cleared when full, then refilled
    assert cache.ticks("5") == 500_000_000  # bulk path: validated, not stored
    assert cache.get("5") is None


# -- the book refuses what would corrupt it -----------------------------------------------


def snap(last: int, bids: list[list[str]], asks: list[list[str]]) -> BinanceDepthSnapshotMsg:
    return msgspec.convert(
        {"lastUpdateId": last, "bids": bids, "asks": asks}, BinanceDepthSnapshotMsg
    )


def diff(first: int, last: int, b: list[list[str]], a: list[list[str]]) -> BinanceDepthDiffMsg:
    raw = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": last, "b": b, "a": a}
    return msgspec.convert(raw, BinanceDepthDiffMsg)


def synced() -> BinanceBookAssembler:
    asm = BinanceBookAssembler(Symbol("BTC-USDT"), "BTCUSDT")
    (out,) = asm.apply_snapshot(snap(10, [["100", "1"], ["99", "2"]], [["101", "1"]]), 0)
    assert isinstance(out, BookSnapshot)
    return asm


@pytest.mark.parametrize(
    "bad", ["NaN", "sNaN", "Infinity", "-1", FULL_WIDTH_123, "1e2", "0.000000001"]
)
@pytest.mark.parametrize("where", ["bid price", "bid qty", "ask price", "ask qty"])
def test_a_live_diff_with_a_bad_value_is_rejected_and_the_book_dropped(
    bad: str, where: str
) -> None:
    asm = synced()
    level = [bad, "1"] if where.endswith("price") else ["100", bad]
    msg = diff(11, 11, [level], []) if where.startswith("bid") else diff(11, 11, [], [level])
    with pytest.raises(FrameRejected) as info:
        asm.apply_diff(msg, 0)
    assert info.value.reason == "value"
    assert not asm.synced  # nothing of the bad frame is kept; the caller resyncs
    assert asm.book.bids == {}
    assert asm.apply_diff(diff(12, 12, [["100", "2"]], []), 0) == ()  # buffered again


def test_a_zero_price_is_rejected() -> None:
    with pytest.raises(FrameRejected, match="> 0"):
        synced().apply_diff(diff(11, 11, [["0", "1"]], []), 0)


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([["999999", "1"]], []),  # the case: a bid far above the best ask
        ([["101", "1"]], []),  # a bid at the best ask
        ([], [["99.5", "1"]]),  # an ask under the best bid
        ([], [["100", "1"]]),  # an ask at the best bid
    ],
)
def test_a_diff_that_would_cross_the_book_is_rejected(
    bids: list[list[str]], asks: list[list[str]]
) -> None:
    asm = synced()
    with pytest.raises(FrameRejected) as info:
        asm.apply_diff(diff(11, 11, bids, asks), 0)
    assert info.value.reason == "crossed"
    assert not asm.synced


def test_a_diff_moving_both_sides_together_is_not_a_cross() -> None:
    asm = synced()
    # The ask at 101 is taken and a new bid at 101 appears in the same update: legitimate.
    (upd,) = asm.apply_diff(diff(11, 11, [["101", "1"]], [["101", "0"], ["102", "1"]]), 0)
    assert isinstance(upd, BookUpdate)
    assert asm.book.best_bid() is not None
    assert asm.book.as_decimals()[0][Decimal("101")] == 1


def test_a_crossed_or_malformed_snapshot_is_rejected() -> None:
    asm = BinanceBookAssembler(Symbol("BTC-USDT"), "BTCUSDT")
    with pytest.raises(FrameRejected) as info:
        asm.apply_snapshot(snap(10, [["102", "1"]], [["101", "1"]]), 0)
    assert info.value.reason == "crossed"
    with pytest.raises(FrameRejected) as info:
        asm.apply_snapshot(snap(10, [["100", "-1"]], [["101", "1"]]), 0)
    assert info.value.reason == "value"
    assert not asm.synced
    with pytest.raises(FrameRejected):  # reconcile checks a fresh snapshot the same way
        synced().reconcile(snap(10, [["NaN", "1"]], []))


def test_a_buffered_diff_with_a_bad_value_is_rejected_before_it_is_kept() -> None:
    asm = BinanceBookAssembler(Symbol("BTC-USDT"), "BTCUSDT")
    with pytest.raises(FrameRejected):
        asm.apply_diff(diff(11, 11, [["Infinity", "1"]], []), 0)
    assert asm.buffered == 0

"""TickBook: exact integer-tick levels, Decimal only at the edge, and the crossing check."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tradegw_core.book.ticks import NO_ASK, NO_BID, TickBook
from tradegw_core.schema.events import Level

D = Decimal


def book_of(bids: dict[int, int], asks: dict[int, int], unit: int = 1) -> TickBook:
    book = TickBook(2, unit)
    for p, q in bids.items():
        book.set_bid(p, q)
    for p, q in asks.items():
        book.set_ask(p, q)
    return book


def test_levels_come_out_as_exact_decimals_best_first() -> None:
    book = book_of({10_050: 150, 10_000: 1}, {10_100: 25, 10_200: 100})
    assert book.top_bids() == [Level(D("100.50"), D("1.50")), Level(D("100.00"), D("0.01"))]
    assert book.top_asks(1) == [Level(D("101.00"), D("0.25"))]
    assert book.best_bid() == Level(D("100.5"), D("1.5"))
    assert book.best_ask() == Level(D("101"), D("0.25"))
    assert book.value(12_345) == D("123.45")
    assert book.as_decimals() == (
        {D("100.5"): D("1.5"), D("100"): D("0.01")},
        {D("101"): D("0.25"), D("102"): D("1")},
    )


def test_zero_quantity_deletes_and_clear_forgets_everything() -> None:
    book = book_of({100: 1}, {101: 1})
    book.set_bid(100, 0)
    book.set_ask(101, 0)
    book.set_ask(105, 0)  # deleting an absent level is fine
    assert book.best_bid() is None
    assert book.best_ask() is None
    book.set_bid(99, 2)
    book.clear()
    assert (book.bids, book.asks, book.bid_ceiling, book.ask_floor) == ({}, {}, NO_BID, NO_ASK)


def test_bad_construction_is_refused() -> None:
    with pytest.raises(ValueError, match="price_unit"):
        TickBook(8, 0)


def test_crossing_questions_tighten_loose_bounds() -> None:
    book = book_of({100: 1}, {101: 1, 103: 1})
    book.set_ask(101, 0)  # the best ask leaves: the floor (101) is now loose
    assert book.ask_floor == 101
    assert not book.ask_at_or_below(102)  # a bid at 102 would not cross (asks start at 103)
    assert book.ask_floor == 103
    assert book.ask_at_or_below(103)
    book.set_bid(100, 0)
    assert not book.bid_at_or_above(100)
    assert book.bid_ceiling == 99
    assert not book.bid_at_or_above(50)
    assert book.bid_ceiling == 49  # probed down to 50: nothing there
    assert not book_of({}, {}).crossed()


def test_far_bounds_fall_back_to_an_exact_scan() -> None:
    book = book_of({100: 1}, {1_000: 1})
    assert book.ask_at_or_below(900) is False
    assert book.ask_floor == 1_000
    assert book.ask_at_or_below(1_000) is True
    assert book.bid_at_or_above(100) is True
    assert book.bid_at_or_above(101) is False


@pytest.mark.parametrize("seed", range(5))
def test_crossing_answers_match_a_naive_book_under_random_changes(seed: int) -> None:
    rng = random.Random(seed)
    book = TickBook(0, 5)
    for _ in range(3000):
        price = rng.randrange(0, 400) * 5
        qty = rng.choice([0, 0, 1, 2])
        side = rng.choice(["bid", "ask"])
        if side == "bid":
            expect = any(p <= price for p in book.asks)
            assert book.ask_at_or_below(price) is expect
        else:
            expect = any(p >= price for p in book.bids)
            assert book.bid_at_or_above(price) is expect
        if not expect:  # apply only what keeps the book uncrossed, like an assembler
            (book.set_bid if side == "bid" else book.set_ask)(price, qty)
        assert not book.crossed()

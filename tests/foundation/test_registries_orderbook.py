"""Keyed registries (duplicates, freeze) and the OrderBook structure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.errors import RegistryError
from tradegw_core.plugin.registries import Registries, Registry
from tradegw_core.schema.events import Level

D = Decimal


def test_registry_adds_gets_and_lists_sorted() -> None:
    reg: Registry[int] = Registry("provider")
    reg.add("kraken", 2, plugin_id="p-kraken")
    reg.add("binance", 1, plugin_id="p-binance")

    assert reg.get("binance") == 1
    assert reg.owner("kraken") == "p-kraken"
    assert list(reg) == ["binance", "kraken"]
    assert reg.items() == [("binance", 1), ("kraken", 2)]
    assert len(reg) == 2
    assert "kraken" in reg
    assert "coinbase" not in reg


def test_registry_refuses_duplicates_naming_both_plugins() -> None:
    reg: Registry[int] = Registry("provider")
    reg.add("binance", 1, plugin_id="first")

    with pytest.raises(RegistryError, match="registered by 'first' and again by 'second'"):
        reg.add("binance", 2, plugin_id="second")
    assert reg.get("binance") == 1
    with pytest.raises(RegistryError, match="empty name"):
        reg.add("", 3, plugin_id="x")


def test_registry_unknown_name_lists_what_exists() -> None:
    reg: Registry[int] = Registry("consumer")
    with pytest.raises(RegistryError, match=r"unknown consumer 'x' \(registered: none\)"):
        reg.get("x")
    reg.add("a", 1)
    with pytest.raises(RegistryError, match=r"registered: a"):
        reg.owner("b")


def test_frozen_registries_refuse_every_add() -> None:
    regs = Registries()
    regs.providers.add("binance", object(), plugin_id="binance")

    regs.freeze()

    assert all(r.frozen for r in regs.all())
    assert len(regs.all()) == 7
    with pytest.raises(RegistryError, match="frozen"):
        regs.consumers.add("late", object(), plugin_id="sneaky")
    assert "binance" in regs.providers


def test_orderbook_set_remove_and_sorted_views() -> None:
    book = OrderBook()
    for price, qty in (("100.1", "1"), ("100.3", "2"), ("100.2", "3")):
        book.set_bid(D(price), D(qty))
    for price, qty in (("101", "1"), ("100.9", "2")):
        book.set_ask(D(price), D(qty))

    book.set_bid(D("100.2"), D("0"))  # qty 0 removes
    book.set_ask(D("999"), D("0"))  # removing an absent level is harmless

    assert book.top_bids() == [Level(D("100.3"), D("2")), Level(D("100.1"), D("1"))]
    assert book.top_asks(1) == [Level(D("100.9"), D("2"))]
    assert book.top_bids(1) == [Level(D("100.3"), D("2"))]
    assert book.best_bid() == Level(D("100.3"), D("2"))
    assert book.best_ask() == Level(D("100.9"), D("2"))


def test_orderbook_load_replaces_and_truncates_to_depth() -> None:
    book = OrderBook(max_depth=2)
    book.set_bid(D("1"), D("9"))  # a ghost level that a snapshot must remove

    book.load(
        bids=[Level(D("10"), D("1")), Level(D("12"), D("1")), Level(D("11"), D("1"))],
        asks=[Level(D("15"), D("1")), Level(D("13"), D("1")), Level(D("14"), D("0"))],
    )

    assert [lv.price for lv in book.top_bids()] == [D("12"), D("11")]
    assert [lv.price for lv in book.top_asks()] == [D("13"), D("15")]
    book.set_ask(D("12.5"), D("1"))
    book.truncate()
    assert [lv.price for lv in book.top_asks()] == [D("12.5"), D("13")]
    book.clear()
    assert book.best_bid() is None
    assert book.best_ask() is None


def test_orderbook_diff_levels_counts_differences() -> None:
    a, b = OrderBook(), OrderBook()
    a.load([Level(D("10"), D("1")), Level(D("9"), D("1"))], [Level(D("11"), D("1"))])
    b.load([Level(D("10"), D("1")), Level(D("9"), D("2"))], [Level(D("11"), D("1"))])

    assert a.diff_levels(a) == 0
    assert a.diff_levels(b) == 2  # (9, 1) vs (9, 2): one level on each side of the diff
    assert a.diff_levels(b, depth=1) == 0
    assert OrderBook().truncate() is None

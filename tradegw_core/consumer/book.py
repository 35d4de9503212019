"""Keeping a book from BookSnapshot and BookUpdate events, as a strategy does."""

from __future__ import annotations

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.schema.events import BookSnapshot, BookUpdate

__all__ = ["apply_book_event"]


def apply_book_event(book: OrderBook, event: BookSnapshot | BookUpdate) -> None:
    """A snapshot replaces ``book``; an update sets its levels (size 0 removes one)."""
    if isinstance(event, BookSnapshot):
        book.load(event.bids, event.asks)
        return
    for lv in event.bids:
        book.set_bid(lv.price, lv.qty)
    for lv in event.asks:
        book.set_ask(lv.price, lv.qty)

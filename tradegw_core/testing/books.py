"""The book a consumer holds, rebuilt from the book events it received (for tests)."""

from __future__ import annotations

from collections.abc import Sequence

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.schema.events import BookSnapshot, BookUpdate

__all__ = ["replayed_book"]


def replayed_book(events: Sequence[object]) -> OrderBook:
    """The last BookSnapshot in ``events`` with every later BookUpdate applied.

    ``events`` are one symbol's events in delivery order (others are skipped); raises
    ValueError when there is no snapshot.
    """
    last = max((i for i, e in enumerate(events) if isinstance(e, BookSnapshot)), default=None)
    if last is None:
        raise ValueError("no BookSnapshot among the events")
    snap = events[last]
    assert isinstance(snap, BookSnapshot)
    book = OrderBook()
    book.load(snap.bids, snap.asks)
    for event in events[last + 1 :]:
        if isinstance(event, BookUpdate):
            for lv in event.bids:
                book.set_bid(lv.price, lv.qty)
            for lv in event.asks:
                book.set_ask(lv.price, lv.qty)
    return book

"""Order books: the shared structures and (in ``stage``) the core's book stage."""

from __future__ import annotations

from tradegw_core.book.orderbook import BookView, OrderBook
from tradegw_core.book.ticks import TickBook

__all__ = ["BookView", "OrderBook", "TickBook"]

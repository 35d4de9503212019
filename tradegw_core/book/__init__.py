"""Order books: the shared structure and (in ``stage``) the core's book stage."""

from __future__ import annotations

from tradegw_core.book.orderbook import OrderBook

__all__ = ["OrderBook"]

"""The dispatcher: per-stream ordering and dedup, the routing table, consumer lanes."""

from __future__ import annotations

from tradegw_core.dispatcher.books import AssembledBooks
from tradegw_core.dispatcher.dedup import DedupWindow
from tradegw_core.dispatcher.dispatcher import AssembledBook, Budget, Dispatcher, DispatcherStats
from tradegw_core.dispatcher.ordering import GapReport, OrderingBuffer, OrderingMode, OrderingStats
from tradegw_core.dispatcher.routing import RouteChange, RoutingTable, stream_sort_key

__all__ = [
    "AssembledBook",
    "AssembledBooks",
    "Budget",
    "DedupWindow",
    "Dispatcher",
    "DispatcherStats",
    "GapReport",
    "OrderingBuffer",
    "OrderingMode",
    "OrderingStats",
    "RouteChange",
    "RoutingTable",
    "stream_sort_key",
]

"""Binance declares its ordering modes at start-up; diff depth is contiguous by U/u range.

The assembler drops empty diffs but names the last update it emitted in ``prev_seq``, so
the dispatcher waits for an update one socket lost until the other socket delivers it (A/B)
and never mistakes a skipped empty diff for a gap.
"""

from __future__ import annotations

from typing import Any

import msgspec
from tradegw_binance.book import BinanceBookAssembler
from tradegw_binance.config import BinanceSettings
from tradegw_binance.provider import ORDERING_MODES, BinanceProvider
from tradegw_binance.schemas import BinanceDepthDiffMsg, BinanceDepthSnapshotMsg

from tradegw_core.dispatcher import OrderingMode
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, StreamKey
from tradegw_core.schema.symbols import Symbol
from tradegw_core.testing.provider import dispatching_context, drain_lane


def _diff(first: int, last: int, bids: list[list[str]]) -> BinanceDepthDiffMsg:
    raw = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": last, "b": bids, "a": []}
    return msgspec.convert(raw, BinanceDepthDiffMsg)


def test_the_provider_declares_contiguous_books_and_monotonic_trades() -> None:
    ctx, dispatcher = dispatching_context("binance", BinanceSettings())
    BinanceProvider(ctx)
    mode = dispatcher.ordering.mode_of
    assert mode(StreamKey("binance", "BTC-USDT", EventType.BOOK_UPDATE)) is OrderingMode.CONTIGUOUS
    assert mode(StreamKey("binance", "BTC-USDT", EventType.TRADE)) is OrderingMode.MONOTONIC
    assert mode(StreamKey("binance", "BTC-USDT", EventType.TICKER)) is OrderingMode.MONOTONIC
    assert ORDERING_MODES[EventType.BOOK_UPDATE] is OrderingMode.CONTIGUOUS


def test_a_book_update_lost_on_one_socket_is_filled_from_the_other() -> None:
    ctx, dispatcher = dispatching_context("binance", BinanceSettings())
    BinanceProvider(ctx)
    dispatcher.subscribe("c", [StreamKey("binance", "BTC-USDT", EventType.BOOK_UPDATE)])
    asm = BinanceBookAssembler(Symbol("BTC-USDT"), "BTCUSDT", provider_id="binance")
    snapshot = msgspec.convert(
        {"lastUpdateId": 100, "bids": [["100", "1"]], "asks": [["101", "1"]]},
        BinanceDepthSnapshotMsg,
    )
    (snap,) = asm.apply_snapshot(snapshot, 0)
    assert isinstance(snap, BookSnapshot)
    updates: list[Any] = []
    for first, last, bids in [
        (101, 102, [["100", "2"]]),
        (103, 103, []),  # empty: applied, not emitted
        (104, 106, [["100", "3"]]),
        (107, 108, [["100", "4"]]),
    ]:
        updates.extend(asm.apply_diff(_diff(first, last, bids), 0))
    assert [(u.first_seq, u.prev_seq) for u in updates] == [(101, 100), (104, 102), (107, 106)]
    u1, u2, u3 = updates
    ctx.emit(snap)
    for event in (u1, u3, u1, u2, u3):  # socket A lost u2; socket B delivers it late
        ctx.emit(event)
        dispatcher.flush()
    got = [e for e in drain_lane(dispatcher) if isinstance(e, BookUpdate)]
    assert [e.last_seq for e in got] == [102, 106, 108]
    assert dispatcher.ordering.stats.gaps == 0

"""Fixtures recorded from this project's emulator (``resources/``, see record_fixtures.py):
they parse like the venue's frames, and their shapes match the real captures field for field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradegw_coinbase.book import CoinbaseBookAssembler, CoinbaseBookDiff, CoinbaseBookSnapshot
from tradegw_coinbase.parsing import (
    decode_frame,
    l2_events,
    parse_candles,
    parse_ticker,
    parse_trades,
)
from tradegw_coinbase.reports import UserOrderTracker
from tradegw_coinbase.schemas import (
    CoinbaseCandlesMsg,
    CoinbaseL2DataMsg,
    CoinbaseMarketTradesMsg,
    CoinbaseOtherMsg,
    CoinbaseTickerMsg,
    CoinbaseUserMsg,
)

from tradegw_core.schema.events import BookSnapshot, BookUpdate, ExecState
from tradegw_core.schema.symbols import Instrument, Symbol


def _keys(value: Any) -> Any:
    """The shape of a JSON value: dict keys recursively, the first item of lists."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return None


def _covers(ours: Any, theirs: Any, where: str = "$") -> list[str]:
    """Paths present in the real capture but missing from the emulator's frame."""
    missing: list[str] = []
    if isinstance(theirs, dict):
        for k, v in theirs.items():
            if not isinstance(ours, dict) or k not in ours:
                missing.append(f"{where}.{k}")
            else:
                missing.extend(_covers(ours[k], v, f"{where}.{k}"))
    elif isinstance(theirs, list) and theirs and isinstance(ours, list) and ours:
        missing.extend(_covers(ours[0], theirs[0], f"{where}[0]"))
    return missing


@pytest.mark.parametrize(
    ("ours", "real"),
    [
        ("coinbase_l2_data_snapshot.json", "ws_l2_data_snapshot.json"),
        ("coinbase_l2_data_update.json", "ws_l2_data_update.json"),
        ("coinbase_market_trades_update.json", "ws_market_trades.json"),
        ("coinbase_ticker_update.json", "ws_ticker.json"),
        ("coinbase_candles_update.json", "ws_candles.json"),
        ("coinbase_heartbeats_update.json", "ws_heartbeats.json"),
        ("coinbase_subscriptions_ack.json", "ws_subscriptions.json"),
        ("coinbase_user_update.json", "ws_user.json"),
    ],
)
def test_emulator_frames_have_every_field_of_the_real_captures(
    resources: Path, coinbase_data: Path, ours: str, real: str
) -> None:
    mine = _keys(json.loads((resources / ours).read_text()))
    theirs = _keys(json.loads((coinbase_data / real).read_text()))
    if real == "ws_subscriptions.json":  # channel names inside are data, not fields
        theirs["events"][0]["subscriptions"] = {}
        mine["events"][0]["subscriptions"] = {}
    assert _covers(mine, theirs) == []


def _frame(resources: Path, name: str) -> Any:
    return decode_frame((resources / name).read_bytes())


def test_recorded_book_frames_assemble(resources: Path) -> None:
    snap_msg = _frame(resources, "coinbase_l2_data_snapshot.json")
    upd_msg = _frame(resources, "coinbase_l2_data_update.json")
    assert isinstance(snap_msg, CoinbaseL2DataMsg)
    assert isinstance(upd_msg, CoinbaseL2DataMsg)
    assert upd_msg.sequence_num > snap_msg.sequence_num
    (snap,) = l2_events(snap_msg, epoch=1)
    assert isinstance(snap, CoinbaseBookSnapshot)
    asm = CoinbaseBookAssembler(Symbol("BTC-USD"), price_precision=2, qty_precision=8)
    (event,) = asm.apply_snapshot(snap, 0)
    assert isinstance(event, BookSnapshot)
    assert len(event.bids) == len(snap.bids)
    assert event.bids[0].price < event.asks[0].price
    (diff,) = l2_events(upd_msg, epoch=1)
    assert isinstance(diff, CoinbaseBookDiff)
    (update,) = asm.apply_diff(diff, 0)
    assert isinstance(update, BookUpdate)
    for price, qty in diff.bids:
        assert asm.book.bids.get(Decimal(price), Decimal(0)) == Decimal(qty)
    for price, qty in diff.asks:
        assert asm.book.asks.get(Decimal(price), Decimal(0)) == Decimal(qty)


def test_recorded_market_frames_parse(
    resources: Path, instruments: dict[Symbol, Instrument]
) -> None:
    trades = _frame(resources, "coinbase_market_trades_update.json")
    assert isinstance(trades, CoinbaseMarketTradesMsg)
    (trade,) = parse_trades(trades, instruments)
    wire_side = trades.events[0].trades[0].side
    assert trade.side is not None
    assert trade.side.value != wire_side.lower()  # maker side on the wire
    ticker = _frame(resources, "coinbase_ticker_update.json")
    assert isinstance(ticker, CoinbaseTickerMsg)
    (tick,) = parse_ticker(ticker, instruments)
    assert tick.bid_price is not None
    assert tick.ask_price is not None
    assert tick.bid_price < tick.ask_price
    candles = _frame(resources, "coinbase_candles_update.json")
    assert isinstance(candles, CoinbaseCandlesMsg)
    (kline,) = parse_candles(candles, instruments)
    assert kline.low <= kline.close <= kline.high
    err = _frame(resources, "coinbase_error_auth.json")
    assert isinstance(err, CoinbaseOtherMsg)
    assert err.is_error
    assert err.message == "authentication failure"


def test_recorded_user_frames_map_to_reports(resources: Path) -> None:
    tracker = UserOrderTracker()
    snapshot = _frame(resources, "coinbase_user_snapshot.json")
    update = _frame(resources, "coinbase_user_update.json")
    assert isinstance(snapshot, CoinbaseUserMsg)
    assert isinstance(update, CoinbaseUserMsg)
    assert tracker.on_message(snapshot) == []  # nothing open yet
    (ack,) = tracker.on_message(update)
    assert ack.state is ExecState.ACK
    assert ack.client_order_id == "fixture-1"

"""Parsing of real Coinbase Advanced Trade messages (shared/data, read in place)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tradegw_coinbase.book import CoinbaseBookDiff, CoinbaseBookSnapshot, stream_seq
from tradegw_coinbase.parsing import (
    CandleTracker,
    aggressor_side,
    decode_frame,
    l2_events,
    parse_candles,
    parse_product_book,
    parse_ticker,
    parse_time_ns,
    parse_trades,
)
from tradegw_coinbase.schemas import (
    CoinbaseCandlesMsg,
    CoinbaseHeartbeatsMsg,
    CoinbaseL2DataMsg,
    CoinbaseMarketTradesMsg,
    CoinbaseOtherMsg,
    CoinbaseProductBookMsg,
    CoinbaseSubscriptionsMsg,
    CoinbaseTickerMsg,
    CoinbaseUserMsg,
)

from tradegw_core.errors import RejectedFrameError, SchemaError
from tradegw_core.schema.events import EventType, Side
from tradegw_core.schema.symbols import Instrument, Symbol


def _ns(iso: str) -> int:
    t = parse_time_ns(iso)
    assert t is not None
    return t


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ws_l2_data_snapshot.json", CoinbaseL2DataMsg),
        ("ws_l2_data_update.json", CoinbaseL2DataMsg),
        ("ws_market_trades.json", CoinbaseMarketTradesMsg),
        ("ws_ticker.json", CoinbaseTickerMsg),
        ("ws_candles.json", CoinbaseCandlesMsg),
        ("ws_heartbeats.json", CoinbaseHeartbeatsMsg),
        ("ws_subscriptions.json", CoinbaseSubscriptionsMsg),
        ("ws_user.json", CoinbaseUserMsg),
    ],
)
def test_every_captured_channel_decodes_to_its_model(
    coinbase_data: Path, name: str, kind: type
) -> None:
    msg = decode_frame((coinbase_data / name).read_bytes())
    assert isinstance(msg, kind)


def test_market_trades_real_capture(
    coinbase_data: Path, instruments: dict[Symbol, Instrument]
) -> None:
    msg = decode_frame((coinbase_data / "ws_market_trades.json").read_bytes())
    assert isinstance(msg, CoinbaseMarketTradesMsg)
    trades = parse_trades(msg, instruments, ts_ingest=7)
    assert [t.trade_id for t in trades] == ["995098700", "995098701"]
    first = trades[0]
    assert first.symbol == first.venue_symbol == "BTC-USD"
    assert first.price == Decimal("68900.50")
    assert first.qty == Decimal("0.00150000")
    assert first.seq_provider == 995098700
    assert first.ts_exchange == _ns("2026-04-07T14:30:02.789012Z")
    assert first.ts_ingest == 7
    assert first.event_id == "coinbase:BTC-USD:Trade:995098700"
    # The wire side is the maker's (documented): a BUY maker means a SELL aggressor.
    assert [t.side for t in trades] == [Side.SELL, Side.BUY]


def test_trade_side_switch_keeps_wire_side_when_told_it_is_the_taker(
    coinbase_data: Path, instruments: dict[Symbol, Instrument]
) -> None:
    msg = decode_frame((coinbase_data / "ws_market_trades.json").read_bytes())
    assert isinstance(msg, CoinbaseMarketTradesMsg)
    assert [t.side for t in parse_trades(msg, instruments, side_is_maker=False)] == [
        Side.BUY,
        Side.SELL,
    ]
    assert aggressor_side("weird", side_is_maker=True) is None


def test_ticker_real_capture(coinbase_data: Path, instruments: dict[Symbol, Instrument]) -> None:
    msg = decode_frame((coinbase_data / "ws_ticker.json").read_bytes())
    assert isinstance(msg, CoinbaseTickerMsg)
    (t,) = parse_ticker(msg, instruments, epoch=3)
    assert t.symbol == "BTC-USD"
    assert (t.bid_price, t.bid_qty) == (Decimal("68900.00"), Decimal("1.50000000"))
    assert (t.ask_price, t.ask_qty) == (Decimal("68901.00"), Decimal("0.50000000"))
    assert t.last_price == Decimal("68900.50")
    assert t.volume_24h == Decimal("15328.12345678")
    assert t.seq_provider == stream_seq(3, 12)
    assert t.ts_exchange == _ns("2026-04-07T14:30:03.000000Z")


def test_ticker_batch_without_bid_ask(instruments: dict[Symbol, Instrument]) -> None:
    frame = (
        b'{"channel":"ticker_batch","client_id":"","timestamp":"2026-04-07T14:30:05Z",'
        b'"sequence_num":9,"events":[{"type":"update","tickers":[{"type":"ticker",'
        b'"product_id":"ETH-USD","price":"3000.1","volume_24_h":"5"}]}]}'
    )
    msg = decode_frame(frame)
    (t,) = parse_ticker(msg, instruments)  # type: ignore[arg-type]
    assert t.last_price == Decimal("3000.1")
    assert t.bid_price is None
    assert t.ask_price is None


def test_candles_real_capture(coinbase_data: Path, instruments: dict[Symbol, Instrument]) -> None:
    msg = decode_frame((coinbase_data / "ws_candles.json").read_bytes())
    assert isinstance(msg, CoinbaseCandlesMsg)
    (k,) = parse_candles(msg, instruments)
    assert k.TYPE is EventType.KLINE_SUMMARY
    assert k.symbol == "BTC-USD"
    assert k.interval == "5m"
    assert k.open_time == 1775521800 * 10**9
    assert k.close_time == (1775521800 + 300) * 10**9
    assert (k.open, k.high, k.low, k.close) == (
        Decimal("68900.00"),
        Decimal("68950.00"),
        Decimal("68850.00"),
        Decimal("68920.50"),
    )
    assert k.volume == Decimal("42.15000000")
    assert k.closed is False


def test_candle_tracker_closes_a_bucket_when_a_later_one_starts(
    coinbase_data: Path, instruments: dict[Symbol, Instrument]
) -> None:
    msg = decode_frame((coinbase_data / "ws_candles.json").read_bytes())
    assert isinstance(msg, CoinbaseCandlesMsg)
    tracker = CandleTracker()
    (running,) = tracker.feed(parse_candles(msg, instruments))
    assert running.closed is False
    # The same bucket re-sent a second later: still running, nothing closes.
    assert [k.closed for k in tracker.feed(parse_candles(msg, instruments))] == [False]
    later = msgspec.structs.replace(
        msg.events[0].candles[0], start=str(1775521800 + 300), open="68920.50"
    )
    nxt = msgspec.structs.replace(
        msg, events=[msgspec.structs.replace(msg.events[0], candles=[later])]
    )
    out = tracker.feed(parse_candles(nxt, instruments))
    assert [(k.open_time, k.closed) for k in out] == [
        (1775521800 * 10**9, True),
        ((1775521800 + 300) * 10**9, False),
    ]
    assert out[0].event_id != running.event_id


def test_heartbeats_and_subscriptions_real_capture(coinbase_data: Path) -> None:
    hb = decode_frame((coinbase_data / "ws_heartbeats.json").read_bytes())
    assert isinstance(hb, CoinbaseHeartbeatsMsg)
    assert hb.events[0].heartbeat_counter == 42
    assert hb.sequence_num == 0
    subs = decode_frame((coinbase_data / "ws_subscriptions.json").read_bytes())
    assert isinstance(subs, CoinbaseSubscriptionsMsg)
    assert subs.events[0].subscriptions == {
        "level2": ["BTC-USD"],
        "market_trades": ["BTC-USD", "ETH-USD"],
    }


def test_live_heartbeat_shape_without_client_id() -> None:
    # Live frame quoted in the protocol notes (2026-09): no client_id, Go-style time text.
    frame = (
        '{"channel": "heartbeats", "timestamp": "2026-09-07T23:37:22.674409Z", '
        '"sequence_num": 3, "events": [{"current_time": "2026-09-07 23:37:22.674409 +0000 '
        'UTC m=+139651.272674714", "heartbeat_counter": 139651}]}'
    )
    msg = decode_frame(frame)
    assert isinstance(msg, CoinbaseHeartbeatsMsg)
    assert msg.client_id == ""
    assert msg.events[0].heartbeat_counter == 139651


def test_error_and_unknown_channels_decode_as_other() -> None:
    err = decode_frame('{"type": "error", "message": "failure to subscribe"}')
    assert isinstance(err, CoinbaseOtherMsg)
    assert err.is_error
    assert err.message == "failure to subscribe"
    status = decode_frame('{"channel": "status", "sequence_num": 4, "events": []}')
    assert isinstance(status, CoinbaseOtherMsg)
    assert not status.is_error
    assert status.sequence_num == 4  # still counted by the connection's sequence check


def test_malformed_frames_raise_schema_error() -> None:
    with pytest.raises(RejectedFrameError, match="not JSON") as info:
        decode_frame(b"{nope")
    assert info.value.reason == "decode"
    with pytest.raises(SchemaError, match="malformed Coinbase l2_data"):
        decode_frame('{"channel": "l2_data", "sequence_num": 1, "events": "x"}')
    with pytest.raises(SchemaError, match="malformed Coinbase frame"):
        decode_frame('{"channel": "l2_data", "sequence_num": "x", "events": []}')


def test_parse_time_ns_keeps_nanoseconds() -> None:
    assert parse_time_ns("1970-01-01T00:00:00Z") == 0
    assert parse_time_ns("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert parse_time_ns("2026-09-07T23:37:22.278739877Z") == 1788824242_278739877
    assert parse_time_ns("1970-01-01T01:00:00+01:00") == 0
    assert parse_time_ns("") is None
    with pytest.raises(SchemaError):
        parse_time_ns("yesterday")


def test_l2_frames_split_per_product(coinbase_data: Path) -> None:
    snap_msg = decode_frame((coinbase_data / "ws_l2_data_snapshot.json").read_bytes())
    upd_msg = decode_frame((coinbase_data / "ws_l2_data_update.json").read_bytes())
    assert isinstance(snap_msg, CoinbaseL2DataMsg)
    assert isinstance(upd_msg, CoinbaseL2DataMsg)
    (snap,) = l2_events(snap_msg, epoch=5)
    assert isinstance(snap, CoinbaseBookSnapshot)
    assert (snap.product_id, snap.seq, snap.epoch) == ("BTC-USD", 0, 5)
    assert snap.bids[0] == ("68900.00", "1.50000000")
    assert len(snap.bids) == 3
    assert len(snap.asks) == 3
    (diff,) = l2_events(upd_msg, epoch=5)
    assert isinstance(diff, CoinbaseBookDiff)
    assert diff.bids == [("68900.00", "2.00000000")]
    assert diff.asks == [("68901.00", "0.00000000")]


def test_rest_product_book_real_capture(coinbase_data: Path) -> None:
    msg = msgspec.json.decode(
        (coinbase_data / "http_product_book.json").read_bytes(), type=CoinbaseProductBookMsg
    )
    snap = parse_product_book(msg)
    assert snap.seq is None
    assert snap.epoch is None
    assert snap.bids[0] == ("68923.66", "0.17189468")
    assert snap.asks[0] == ("68923.67", "0.16987193")
    assert snap.ts_exchange == _ns("2026-04-07T00:28:59.662782Z")

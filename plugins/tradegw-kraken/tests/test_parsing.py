"""WebSocket v2 frames -> wire Structs -> canonical events (format fixtures + live frames)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tradegw_kraken.parsing import (
    KrakenDecoders,
    interval_name,
    kline_event,
    parse_ts_ns,
    ticker_event,
    trade_event,
)
from tradegw_kraken.symbols import KrakenSymbolMap

from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import Side


def _fixture(shared_data: Path, name: str) -> bytes:
    path = shared_data / "nautilus" / "kraken" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path.read_bytes()


def test_timestamps_to_ns() -> None:
    assert parse_ts_ns("2024-10-03T02:46:57.050170Z") == 1727923617050170000
    assert parse_ts_ns("2023-10-04T16:25:00.000000000Z") == 1696436700000000000
    assert parse_ts_ns("2023-10-04T16:25:00Z") == 1696436700000000000
    assert parse_ts_ns("2026-05-05T10:00:00.123Z") == 1777975200123000000
    with pytest.raises(SchemaError):
        parse_ts_ns("yesterday")


def test_live_status_frame_with_huge_connection_id() -> None:
    frame = KrakenDecoders().decode_frame(
        b'{"channel":"status","data":[{"api_version":"v2","connection_id":14949390454975033707,'
        b'"system":"online","version":"2.0.8"}],"type":"update"}'
    )
    (status,) = KrakenDecoders().status_data(frame)
    assert frame.channel == "status"
    assert status.system == "online"


def test_trade_update(shared_data: Path, ws_symbols: KrakenSymbolMap) -> None:
    dec = KrakenDecoders()
    frame = dec.decode_frame(_fixture(shared_data, "ws_trade_update.json"))
    assert (frame.channel, frame.type) == ("trade", "update")
    first, second = (
        trade_event(t, ws_symbols.instrument("BTC-USD"), 7) for t in dec.trade_data(frame)
    )
    assert first.price == Decimal("105944.20")
    assert first.qty == Decimal("0.00027625")
    assert first.side is Side.BUY
    assert second.side is Side.SELL
    assert first.seq_provider == 10218208
    assert first.trade_id == "10218208"
    assert first.event_id == "kraken:BTC-USD:Trade:10218208"
    assert first.ts_exchange == 1696613755440295000
    assert first.ts_ingest == 7


def test_ticker_snapshot(shared_data: Path, ws_symbols: KrakenSymbolMap) -> None:
    dec = KrakenDecoders()
    frame = dec.decode_frame(_fixture(shared_data, "ws_ticker_snapshot.json"))
    (raw,) = dec.ticker_data(frame)
    ticker = ticker_event(raw, ws_symbols.instrument("BTC-USD"), 1)
    assert ticker.bid_price == Decimal("105944.20")
    assert ticker.ask_price == Decimal("105944.30")
    assert ticker.bid_qty == Decimal("2.5")
    assert ticker.last_price == Decimal("105899.40")
    assert ticker.volume_24h == Decimal("163.28908096")


def test_ohlc_update_to_kline(shared_data: Path, ws_symbols: KrakenSymbolMap) -> None:
    dec = KrakenDecoders()
    frame = dec.decode_frame(_fixture(shared_data, "ws_ohlc_update.json"))
    (raw,) = dec.ohlc_data(frame)
    kline = kline_event(raw, ws_symbols.instrument("BTC-USD"), 1)
    assert kline.interval == "1m"
    assert kline.open_time == 1696436700000000000
    assert kline.close_time == kline.open_time + 60_000_000_000
    assert (kline.open, kline.close) == (Decimal("106038.2"), Decimal("106040.1"))
    assert kline.volume == Decimal("30927.68066226")
    assert not kline.closed
    assert interval_name(1440) == "1d"
    with pytest.raises(SchemaError):
        interval_name(2)


def test_book_fixture_parses_numbers_exactly(shared_data: Path) -> None:
    # The nautilus book fixtures are format examples only (their checksums belong to another
    # book, test-vectors 2.6): check the decoding, not the checksum.
    dec = KrakenDecoders()
    frame = dec.decode_frame(_fixture(shared_data, "ws_book_snapshot.json"))
    (entry,) = dec.book_data(frame)
    assert entry.bids[0].price == Decimal("105944.20")
    assert str(entry.bids[0].price) == "105944.20"  # trailing zero kept, no float
    assert entry.checksum == 2439117997


def test_method_responses(shared_data: Path) -> None:
    dec = KrakenDecoders()
    ack = dec.decode_frame(_fixture(shared_data, "ws_subscribe_response.json"))
    assert ack.method == "subscribe"
    assert ack.success is True
    assert ack.req_id == 1
    pong = dec.decode_frame(_fixture(shared_data, "ws_pong.json"))
    assert pong.method == "pong"
    assert pong.req_id == 42
    fail = dec.decode_frame(_fixture(shared_data, "ws_add_order_response_failure.json"))
    assert fail.success is False
    assert fail.error == "EOrder:Insufficient funds"
    refused = dec.decode_frame(
        b'{"method": "subscribe", "error": "Subscription depth not supported", "success": false,'
        b' "time_in": "2026-08-16T23:54:19.629313Z", "time_out": "2026-08-16T23:54:19.629343Z"}'
    )
    assert refused.success is False
    assert refused.error == "Subscription depth not supported"


def test_malformed_frames_are_schema_errors() -> None:
    dec = KrakenDecoders()
    with pytest.raises(SchemaError):
        dec.decode_frame(b"[1, 2]")
    frame = dec.decode_frame(b'{"channel":"trade","type":"update","data":[{"symbol":"X"}]}')
    with pytest.raises(SchemaError, match="trade"):
        dec.trade_data(frame)
    with pytest.raises(SchemaError, match="without data"):
        dec.book_data(dec.decode_frame(b'{"channel":"book","type":"update"}'))


def test_recorded_emulator_control_frames() -> None:
    resources = Path(__file__).resolve().parent / "resources"
    dec = KrakenDecoders()
    status = dec.decode_frame((resources / "kraken_status_online.json").read_bytes())
    assert dec.status_data(status)[0].system == "online"
    ack = dec.decode_frame((resources / "kraken_subscribe_ack_book.json").read_bytes())
    assert ack.method == "subscribe"
    assert ack.success is True
    assert ack.req_id == 1
    refused = dec.decode_frame((resources / "kraken_subscribe_error_depth.json").read_bytes())
    assert refused.success is False
    assert refused.error == "Subscription depth not supported"


def test_recorded_emulator_add_order_answer() -> None:
    import msgspec
    from tradegw_kraken.emulator_wire import txid_number
    from tradegw_kraken.schemas import KrakenRestResponseMsg

    raw = (
        Path(__file__).resolve().parent / "resources" / "kraken_rest_addorder_ok.json"
    ).read_bytes()
    answer = msgspec.json.decode(raw, type=KrakenRestResponseMsg)
    assert answer.error == []
    (txid,) = answer.result["txid"]
    assert txid_number(txid) == 1
    assert answer.result["descr"]["order"].startswith("buy ")

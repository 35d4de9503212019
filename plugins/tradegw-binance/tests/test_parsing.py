"""Parsing of real captured Binance market frames, documented examples and emulator fixtures."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradegw_binance.decoding import decode_market_payload, decode_stream_frame, split_stream_name
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.schemas import (
    BinanceBookTickerMsg,
    BinanceDepthDiffMsg,
    BinanceKlineMsg,
)

from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import (
    KlineSummary,
    Side,
    Ticker,
    Trade,
    decode_event,
    encode_event,
)

D = Decimal


RESOURCES = Path(__file__).resolve().parent / "resources"


def _resource(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text())


@pytest.mark.parametrize("venue", ["BINANCE", "BINANCE_US"])
def test_every_real_frame_parses_to_an_exact_canonical_event(
    venue: str, ws_capture: Callable[[str], list], parser: BinanceParser
) -> None:
    kinds: Counter[str] = Counter()
    for frame in ws_capture(f"cryptofeed/{venue}.ws.1.0"):
        env = decode_stream_frame(frame.text)
        venue_symbol, channel = split_stream_name(env.stream)
        payload = decode_market_payload(channel, bytes(env.data))
        assert payload is not None, channel
        raw = json.loads(frame.text)["data"]
        if isinstance(payload, BinanceDepthDiffMsg):
            kinds["depth"] += 1
            assert payload.s == venue_symbol
            assert payload.u >= payload.U
            continue
        event = parser.market_event(payload, 7)
        assert event is not None
        assert event.venue_symbol == venue_symbol
        assert event.symbol == parser.symbols.to_canonical(venue_symbol)
        assert decode_event(encode_event(event)) == event  # survives the canonical wire
        if isinstance(event, Trade):
            kinds["trade"] += 1
            assert event.price == D(raw["p"])
            assert str(event.price) == raw["p"]
            assert event.side is (Side.SELL if raw["m"] else Side.BUY)
            assert event.ts_exchange == raw["T"] * 1_000_000
        elif isinstance(event, Ticker):
            kinds["ticker"] += 1
            assert isinstance(payload, BinanceBookTickerMsg)
            assert event.bid_price is not None
            assert event.ask_price is not None
            assert event.bid_price < event.ask_price
            assert event.seq_provider == raw["u"]
        else:
            assert isinstance(event, KlineSummary)
            assert isinstance(payload, BinanceKlineMsg)
            kinds["kline"] += 1
            assert event.interval == "1m"
            assert event.closed is raw["k"]["x"]
            assert event.low <= event.open <= event.high
            assert event.low <= event.close <= event.high
    assert set(kinds) == {"depth", "trade", "ticker", "kline"}, kinds


def test_tr_capture_parses_with_venue_symbols_known(ws_capture: Callable[[str], list]) -> None:
    """Binance TR frames decode (no TR exchangeInfo is stored: only the typed decode)."""
    seen = Counter()
    for frame in ws_capture("cryptofeed/BINANCE_TR.ws.1.0"):
        env = decode_stream_frame(frame.text)
        _, channel = split_stream_name(env.stream)
        payload = decode_market_payload(channel, bytes(env.data))
        seen[type(payload).__name__] += 1
    assert seen["BinanceDepthDiffMsg"] > 0
    assert seen["BinanceBookTickerMsg"] > 0
    assert seen["NoneType"] == 0


def test_documented_examples(parser: BinanceParser) -> None:
    trade = decode_market_payload(
        "trade",
        b'{"e": "trade", "E": 1700000000200, "s": "BTCUSDT", '
        b'"t": 310001, "p": "37000.02000000", "q": "0.01500000", '
        b'"T": 1700000000199, "m": false, "M": true}',
    )
    ev = parser.market_event(trade, 1)  # type: ignore[arg-type]
    assert isinstance(ev, Trade)
    assert ev.side is Side.BUY
    assert ev.trade_id == "310001"
    assert ev.event_id == "binance:BTC-USDT:Trade:310001"
    assert ev.qty == D("0.015")
    kline = decode_market_payload(
        "kline_1m",
        json.dumps(
            {
                "e": "kline",
                "E": 1700000002000,
                "s": "BTCUSDT",
                "k": {
                    "t": 1699999980000,
                    "T": 1700000039999,
                    "s": "BTCUSDT",
                    "i": "1m",
                    "f": 309950,
                    "L": 310003,
                    "o": "36990.00000000",
                    "c": "37000.02000000",
                    "h": "37001.00000000",
                    "l": "36985.50000000",
                    "v": "4.21000000",
                    "n": 54,
                    "x": False,
                    "q": "155700.12000000",
                    "V": "2.10000000",
                    "Q": "77700.00000000",
                    "B": "0",
                },
            }
        ),
    )
    k = parser.market_event(kline, 1)  # type: ignore[arg-type]
    assert isinstance(k, KlineSummary)
    assert not k.closed
    assert k.close == D("37000.02")
    assert k.open_time == 1699999980000 * 1_000_000
    assert decode_market_payload("avgPrice", b"{}") is None
    assert decode_market_payload("depth5", b"{}") is None  # partial book: not a diff


def test_nautilus_stream_payloads(
    parser: BinanceParser, nautilus_json: Callable[[str], dict]
) -> None:
    t = nautilus_json("ws_messages/ws_spot_trade.json")
    ev = parser.market_event(
        decode_market_payload("trade", json.dumps(t["data"])),
        0,  # type: ignore[arg-type]
    )
    assert isinstance(ev, Trade)
    assert ev.side is Side.SELL
    assert ev.price == D("4149.74")
    a = nautilus_json("ws_messages/ws_spot_agg_trade.json")
    ev = parser.market_event(
        decode_market_payload("aggTrade", json.dumps(a["data"])),
        0,  # type: ignore[arg-type]
    )
    assert isinstance(ev, Trade)
    assert ev.trade_id == "228423-228423"
    assert ev.side is Side.BUY
    tk = nautilus_json("ws_messages/ws_spot_ticker_24hr.json")
    tk["s"] = "ETHUSDT"  # the documented BNBBTC example; any known symbol will do
    ev = parser.market_event(
        decode_market_payload("ticker", json.dumps(tk)),
        0,  # type: ignore[arg-type]
    )
    assert isinstance(ev, Ticker)
    assert ev.last_price == D("0.0025")
    assert ev.volume_24h == D(10000)
    bt = nautilus_json("ws_messages/ws_spot_ticker_book.json")
    ev = parser.market_event(
        decode_market_payload("bookTicker", json.dumps(bt["data"])),
        0,  # type: ignore[arg-type]
    )
    assert isinstance(ev, Ticker)
    assert ev.ask_qty == D("2.8457")
    assert ev.ts_exchange is not None


def test_malformed_frames_raise_schema_error() -> None:
    with pytest.raises(SchemaError, match="depthUpdate"):
        decode_market_payload("depth@100ms", b'{"e":"depthUpdate"}')
    with pytest.raises(SchemaError):
        split_stream_name("btcusdt")
    with pytest.raises(SchemaError):
        decode_stream_frame(b"not json")


def test_control_frames() -> None:
    ack = decode_stream_frame(b'{"result": null, "id": 1}')
    assert ack.stream == ""
    assert ack.id == 1
    assert bytes(ack.result) == b"null"
    err = decode_stream_frame(b'{"code": 2, "msg": "Invalid request", "id": 3}')
    assert (err.code, err.id) == (2, 3)


# -- fixtures recorded from this project's emulator (tests/resources) ---------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("binance_trade_emulator.json", Trade),
        ("binance_bookTicker_emulator.json", Ticker),
        ("binance_kline_emulator.json", KlineSummary),
    ],
)
def test_emulator_recorded_frames_parse(name: str, kind: type, parser: BinanceParser) -> None:
    frames = _resource(name)
    assert frames
    for frame in frames:
        env = decode_stream_frame(json.dumps(frame))
        _, channel = split_stream_name(env.stream)
        event = parser.market_event(decode_market_payload(channel, bytes(env.data)), 0)  # type: ignore[arg-type]
        assert isinstance(event, kind)
        assert event.symbol == "BTC-USDT"

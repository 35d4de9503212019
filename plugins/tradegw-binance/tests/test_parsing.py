"""Parsing of real captured Binance market frames, documented examples and emulator fixtures."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tradegw_binance.decoding import (
    decode_depth_frame,
    decode_stream_frame,
    market_handler,
    split_stream_name,
)
from tradegw_binance.parsing import BinanceParser
from tradegw_binance.schemas import BinanceBookTickerMsg, BinanceStreamData

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


def parse(parser: BinanceParser, stream: str, data: Any, ts: int = 0) -> Any:
    """A payload framed as the combined stream sends it, through the one-pass handler."""
    handler = market_handler(split_stream_name(stream)[1], parser)
    assert handler is not None, stream
    return handler(json.dumps({"stream": stream, "data": data}), ts)


@pytest.mark.parametrize("venue", ["BINANCE", "BINANCE_US"])
def test_every_real_frame_parses_to_an_exact_canonical_event(
    venue: str, ws_capture: Callable[[str], list], parser: BinanceParser
) -> None:
    kinds: Counter[str] = Counter()
    for frame in ws_capture(f"cryptofeed/{venue}.ws.1.0"):
        env = decode_stream_frame(frame.text)
        venue_symbol, channel = split_stream_name(env.stream)
        raw = json.loads(frame.text)["data"]
        if channel.startswith("depth"):
            kinds["depth"] += 1
            diff = decode_depth_frame(frame.text)
            assert diff.s == venue_symbol
            assert diff.u >= diff.U
            continue
        handler = market_handler(channel, parser)
        assert handler is not None, channel
        event = handler(frame.text, 7)
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
            assert channel == "bookTicker"
            assert event.bid_price is not None
            assert event.ask_price is not None
            assert event.bid_price < event.ask_price
            assert event.seq_provider == raw["u"]
        else:
            assert isinstance(event, KlineSummary)
            assert channel == "kline_1m"
            kinds["kline"] += 1
            assert event.interval == "1m"
            assert event.closed is raw["k"]["x"]
            assert event.low <= event.open <= event.high
            assert event.low <= event.close <= event.high
    assert set(kinds) == {"depth", "trade", "ticker", "kline"}, kinds


def test_tr_capture_parses_with_venue_symbols_known(ws_capture: Callable[[str], list]) -> None:
    """Binance TR frames decode (no TR exchangeInfo is stored: only the typed decode)."""
    seen: Counter[str] = Counter()
    book_ticker = msgspec.json.Decoder(BinanceStreamData[BinanceBookTickerMsg])
    for frame in ws_capture("cryptofeed/BINANCE_TR.ws.1.0"):
        _, channel = split_stream_name(decode_stream_frame(frame.text).stream)
        if channel.startswith("depth"):
            seen[type(decode_depth_frame(frame.text)).__name__] += 1
        elif channel == "bookTicker":
            seen[type(book_ticker.decode(frame.text).data).__name__] += 1
    assert seen["BinanceDepthDiffMsg"] > 0
    assert seen["BinanceBookTickerMsg"] > 0


def test_documented_examples(parser: BinanceParser) -> None:
    trade = {
        "e": "trade",
        "E": 1700000000200,
        "s": "BTCUSDT",
        "t": 310001,
        "p": "37000.02000000",
        "q": "0.01500000",
        "T": 1700000000199,
        "m": False,
        "M": True,
    }
    ev = parse(parser, "btcusdt@trade", trade, 1)
    assert isinstance(ev, Trade)
    assert ev.side is Side.BUY
    assert ev.trade_id == "310001"
    assert ev.event_id == "binance:BTC-USDT:Trade:310001"
    assert ev.qty == D("0.015")
    k = parse(
        parser,
        "btcusdt@kline_1m",
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
        },
        1,
    )
    assert isinstance(k, KlineSummary)
    assert not k.closed
    assert k.close == D("37000.02")
    assert k.open_time == 1699999980000 * 1_000_000
    assert market_handler("avgPrice", parser) is None
    assert market_handler("depth5", parser) is None  # partial book: not consumed


def test_nautilus_stream_payloads(
    parser: BinanceParser, nautilus_json: Callable[[str], dict]
) -> None:
    t = nautilus_json("ws_messages/ws_spot_trade.json")
    ev = parse(parser, "ethusdt@trade", t["data"])
    assert isinstance(ev, Trade)
    assert ev.side is Side.SELL
    assert ev.price == D("4149.74")
    a = nautilus_json("ws_messages/ws_spot_agg_trade.json")
    ev = parse(parser, "ethusdt@aggTrade", a["data"])
    assert isinstance(ev, Trade)
    assert ev.trade_id == "228423-228423"
    assert ev.side is Side.BUY
    tk = nautilus_json("ws_messages/ws_spot_ticker_24hr.json")
    tk["s"] = "ETHUSDT"  # the documented BNBBTC example; any known symbol will do
    ev = parse(parser, "ethusdt@ticker", tk)
    assert isinstance(ev, Ticker)
    assert ev.last_price == D("0.0025")
    assert ev.volume_24h == D(10000)
    bt = nautilus_json("ws_messages/ws_spot_ticker_book.json")
    ev = parse(parser, "ethusdt@bookTicker", bt["data"])
    assert isinstance(ev, Ticker)
    assert ev.ask_qty == D("2.8457")
    assert ev.ts_exchange is not None


def test_malformed_frames_raise_schema_error() -> None:
    with pytest.raises(SchemaError, match="depthUpdate"):
        decode_depth_frame(b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}')
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
        event = parse(parser, frame["stream"], frame["data"])
        assert isinstance(event, kind)
        assert event.symbol == "BTC-USDT"

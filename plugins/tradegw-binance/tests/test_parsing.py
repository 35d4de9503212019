"""Parsing of real captured Binance frames, documented examples and execution reports."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tradegw_binance.parsing import (
    BinanceParser,
    decode_execution_report,
    decode_market_payload,
    decode_order,
    decode_stream_frame,
    decode_user_event,
    map_exec_state,
    split_stream_name,
)
from tradegw_binance.schemas import (
    BinanceBookTickerMsg,
    BinanceDepthDiffMsg,
    BinanceKlineMsg,
)
from tradegw_binance.symbols import BinanceSymbolMap

from tradegw_core.errors import SchemaError
from tradegw_core.schema.events import (
    ExecState,
    KlineSummary,
    Side,
    Ticker,
    Trade,
    decode_event,
    encode_event,
)
from tradegw_core.testing.data import shared_file

D = Decimal


RESOURCES = Path(__file__).resolve().parent / "resources"


@pytest.fixture(scope="module")
def parser() -> BinanceParser:
    """A parser over the real binance.com + binance.us exchangeInfo symbols."""
    insts = []
    for name in ("cryptofeed/BINANCE.0", "cryptofeed/BINANCE_US.0"):
        line = shared_file(name).read_text().splitlines()[0]
        body = line.partition(" -> ")[2].partition(": ")[2]
        insts.extend(BinanceSymbolMap.from_exchange_info(body, "binance").instruments().values())
    return BinanceParser("binance", BinanceSymbolMap(insts))


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


# -- execution reports (binance.md 5.3; test-vectors.md 7) --------------------------------

# file -> (state or None, last_qty, cum_qty, leaves_qty, reason)
EXEC_CASES = {
    "ws_messages/ws_spot_execution_report_binance_us.json": (
        ExecState.FILLED,
        "0.00042",
        "0.00042",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_calculated.json": (
        ExecState.FILLED,
        "0",
        "0.01",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_canceled.json": (
        ExecState.CANCELLED,
        "0",
        "0.1",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_custom_client_id.json": (
        ExecState.PARTIAL,
        "0.5",
        "0.5",
        "0.5",
        "",
    ),
    "ws_messages/ws_spot_execution_report_empty_client_id.json": (
        ExecState.PARTIAL,
        "0.5",
        "0.5",
        "0.5",
        "",
    ),
    "ws_messages/ws_spot_execution_report_expired.json": (ExecState.EXPIRED, "0", "0", "0", ""),
    "ws_messages/ws_spot_execution_report_new.json": (ExecState.ACK, "0", "0", "1", ""),
    "ws_messages/ws_spot_execution_report_new_limit_if_touched_price_match.json": (
        ExecState.ACK,
        "0",
        "0",
        "1",
        "",
    ),
    "ws_messages/ws_spot_execution_report_new_price_match.json": (ExecState.ACK, "0", "0", "1", ""),
    "ws_messages/ws_spot_execution_report_new_stop_limit_price_match.json": (
        ExecState.ACK,
        "0",
        "0",
        "1",
        "",
    ),
    "ws_messages/ws_spot_execution_report_pending_cancel.json": None,
    "ws_messages/ws_spot_execution_report_rejected.json": (
        ExecState.REJECTED,
        "0",
        "0",
        "0",
        "GTX_ORDER_REJECT",
    ),
    "ws_messages/ws_spot_execution_report_trade.json": (ExecState.PARTIAL, "0.5", "0.5", "0.5", ""),
    "ws_messages/ws_spot_execution_report_trade_l_zero.json": (
        ExecState.FILLED,
        "0.001",
        "0.001",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_trade_l_zero_canceled.json": (
        ExecState.CANCELLED,
        "0",
        "0",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_trade_l_zero_expired.json": (
        ExecState.EXPIRED,
        "0",
        "0",
        "0",
        "",
    ),
    "ws_messages/ws_spot_execution_report_trade_l_zero_new.json": (
        ExecState.ACK,
        "0",
        "0",
        "1",
        "",
    ),
    "ws_messages/ws_spot_execution_report_trade_l_zero_partial.json": (
        ExecState.PARTIAL,
        "0",
        "0.5",
        "0.5",
        "",
    ),
    "ws_messages/ws_spot_execution_report_trade_prevention.json": (
        ExecState.EXPIRED,
        "0",
        "0",
        "0",
        "SELF_TRADE_PREVENTION",
    ),
    "user_data_json/execution_report_new.json": (ExecState.ACK, "0", "0", "1", ""),
    "user_data_json/execution_report_trade.json": (ExecState.FILLED, "1", "1", "0", ""),
    "user_data_json/execution_report_canceled.json": (ExecState.CANCELLED, "0", "0", "0", ""),
    "user_data_json/execution_report_expired.json": (
        ExecState.EXPIRED,
        "0",
        "0",
        "0",
        "INSUFFICIENT_LIQUIDITY",
    ),
    "user_data_json/execution_report_stop_loss.json": (ExecState.ACK, "0", "0", "1", ""),
    "user_data_json/execution_report_wrapped.json": (ExecState.ACK, "0", "0", "1", ""),
}


def _exec_payload(doc: dict) -> bytes:
    if "subscriptionId" in doc:  # the WS API user-data framing
        return bytes(decode_user_event(json.dumps(doc)).event)
    return json.dumps(doc.get("data", doc)).encode()


def test_every_execution_report_capture_is_covered(shared_data: Path) -> None:
    found = {
        str(p.relative_to(shared_data / "nautilus/binance"))
        for p in (shared_data / "nautilus/binance").rglob("*.json")
        if '"executionReport"' in p.read_text()
    }
    assert found == set(EXEC_CASES)


@pytest.mark.parametrize("rel", sorted(EXEC_CASES))
def test_execution_report_mapping(
    rel: str, parser: BinanceParser, nautilus_json: Callable[[str], dict]
) -> None:
    doc = nautilus_json(rel)
    msg = decode_execution_report(_exec_payload(doc))
    rep = parser.execution_report(msg, 11)
    expected = EXEC_CASES[rel]
    if expected is None:
        assert rep is None  # PENDING_CANCEL: no change
        return
    state, last, cum, leaves, reason = expected
    assert rep is not None
    assert rep.state is state
    assert rep.venue_status == msg.X
    assert (rep.last_qty, rep.cum_qty, rep.leaves_qty) == (D(last), D(cum), D(leaves))
    assert rep.reason == reason
    assert rep.client_order_id == msg.c
    assert rep.venue_order_id == str(msg.i)
    assert rep.side is (Side.BUY if msg.S == "BUY" else Side.SELL)
    if rep.last_qty > 0:
        assert msg.x == "TRADE"
        assert rep.last_price == D(msg.L)
        assert rep.fee == D(msg.n or "0")
        assert rep.fee_asset == msg.N
    else:
        assert rep.last_price is None
        assert rep.fee == 0
    assert decode_event(encode_event(rep)) == rep


def test_fill_fields_of_a_real_shaped_trade_report(
    parser: BinanceParser, nautilus_json: Callable[[str], dict]
) -> None:
    doc = nautilus_json("ws_messages/ws_spot_execution_report_binance_us.json")
    rep = parser.execution_report(decode_execution_report(json.dumps(doc["data"])), 0)
    assert rep is not None
    assert rep.symbol == "BTC-USD"
    assert rep.last_price == D("117290.77")
    assert rep.fee == D("0.00492621")
    assert rep.fee_asset == "USD"
    assert rep.avg_price == D("49.26212340") / D("0.00042")
    assert rep.event_id == "binance:BTC-USD:ExecReport:2281896601:4644480641"


def test_cancel_event_reports_the_cancelled_orders_id(parser: BinanceParser) -> None:
    body = {
        "e": "executionReport",
        "E": 1,
        "s": "BTCUSDT",
        "c": "cancel-req-1",
        "S": "BUY",
        "o": "LIMIT",
        "q": "1",
        "p": "10",
        "x": "CANCELED",
        "X": "CANCELED",
        "i": 5,
        "C": "tg-order-1",
        "z": "0.2",
        "I": 9,
    }
    rep = parser.execution_report(
        msgspec.convert(body, type=type(decode_execution_report(json.dumps(body)))), 0
    )
    assert rep is not None
    assert rep.client_order_id == "tg-order-1"
    assert rep.cum_qty == D("0.2")


def test_state_table_ignores_unknown_statuses() -> None:
    assert map_exec_state("NEW", "PENDING_NEW") is ExecState.ACK
    assert map_exec_state("TRADE_PREVENTION", "EXPIRED_IN_MATCH") is ExecState.EXPIRED
    assert map_exec_state("REPLACED", "PARTIALLY_FILLED") is ExecState.PARTIAL
    assert map_exec_state("CANCELED", "PENDING_CANCEL") is None
    assert map_exec_state("X", "SOMETHING_NEW") is None


@pytest.mark.parametrize(
    ("rel", "state", "cum"),
    [
        ("http_json/new_order_full_response.json", ExecState.FILLED, "10"),
        ("http_json/order_response.json", ExecState.ACK, "0"),
        ("http_json/cancel_order_response.json", ExecState.CANCELLED, "0"),
    ],
)
def test_rest_order_answers_map_to_reports(
    rel: str,
    state: ExecState,
    cum: str,
    parser: BinanceParser,
    nautilus_json: Callable[[str], dict],
) -> None:
    doc = nautilus_json(rel)
    if doc["symbol"] == "LTCBTC" or doc["symbol"] == "BTCUSDT":
        pass
    msg = decode_order(json.dumps(doc))
    rep = parser.order_report(msg, 0)
    assert rep is not None
    assert rep.state is state
    assert rep.cum_qty == D(cum)
    if rel.startswith("http_json/cancel"):
        assert rep.client_order_id == "myOrder1"  # the order's id, not the cancel's
    if rel.endswith("full_response.json"):
        assert rep.fee == D("39.98300000")
        assert rep.fee_asset == "USDT"
        assert rep.avg_price == D(1)
        assert rep.leaves_qty == 0


def test_ack_only_order_answer_has_no_report(parser: BinanceParser) -> None:
    msg = decode_order(
        b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,'
        b'"clientOrderId":"tg-1","transactTime":1507725176595}'
    )
    assert parser.order_report(msg, 0) is None


# -- fixtures recorded from this project's emulator (tests/resources) ---------------------


def _resource(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text())


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


def test_emulator_recorded_fill_sequence(parser: BinanceParser) -> None:
    """ACK -> PARTIAL -> FILLED as the emulator's user stream sent it, matching the REST fills."""
    frames = _resource("binance_executionReport_fill.json")
    full = decode_order(json.dumps(_resource("binance_order_full.json")))
    reports = [
        parser.execution_report(
            decode_execution_report(bytes(decode_user_event(json.dumps(f)).event)), 0
        )
        for f in frames
    ]
    assert [r.state for r in reports if r] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    fills = [(r.last_qty, r.last_price) for r in reports if r and r.last_qty > 0]
    assert fills == [(D(f.qty), D(f.price)) for f in full.fills]
    final = reports[-1]
    assert final is not None
    assert final.cum_qty == D(full.executedQty)
    assert final.leaves_qty == 0
    rest = parser.order_report(full, 0)
    assert rest is not None
    assert rest.state is ExecState.FILLED
    assert rest.avg_price == final.avg_price

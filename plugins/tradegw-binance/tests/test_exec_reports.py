"""Execution reports and order answers -> canonical ExecReports (binance.md 5.3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tradegw_binance.decoding import decode_execution_report, decode_order, decode_user_event
from tradegw_binance.parsing import BinanceParser, map_exec_state

from tradegw_core.schema.events import (
    ExecState,
    Side,
    decode_event,
    encode_event,
)

D = Decimal


RESOURCES = Path(__file__).resolve().parent / "resources"


def _resource(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text())


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
        assert rep.last_price == (D(msg.L) if D(msg.L) > 0 else None)  # a price is > 0
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

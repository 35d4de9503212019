"""``executions`` -> ExecReports: state mapping, the trade+filled two-step, fills once.

No real Kraken v2 ``executions`` capture exists (test-vectors.md section 8); the frames
here follow the documented example of kraken.md section 5 field for field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradegw_kraken.executions import KrakenExecutionMapper
from tradegw_kraken.parsing import KrakenDecoders

from tradegw_core.schema.events import ExecState, Side

RESOURCES = Path(__file__).resolve().parent / "resources"

# kraken.md section 5, verbatim.
DOC_TRADE = {
    "exec_type": "trade", "order_status": "partially_filled",
    "order_id": "OTGW01-AAAAA-BBBBBB", "cl_ord_id": "6d1b345e-2821-40e2-ad83-4ecb18a06876",
    "symbol": "BTC/USD", "side": "buy", "order_type": "limit", "order_qty": 1.25,
    "limit_price": 37500.0, "time_in_force": "GTC",
    "exec_id": "TGW001-CCCCC-DDDDDD", "trade_id": 4665906, "last_qty": 0.5,
    "last_price": 37500.0, "liquidity_ind": "m", "cost": 18750.0,
    "fees": [{"asset": "USD", "qty": 30.0}], "fee_usd_equiv": 30.0, "cum_qty": 0.5,
    "cum_cost": 18750.0, "avg_price": 37500.0, "timestamp": "2023-09-22T10:33:05.709950Z",
}  # fmt: skip
ORDER = {k: DOC_TRADE[k] for k in ("order_id", "cl_ord_id", "symbol", "side", "order_qty",
                                   "limit_price", "order_type", "time_in_force")}  # fmt: skip


def _frame(seq: int, *items: dict[str, Any], type_: str = "update") -> bytes:
    return json.dumps(
        {"channel": "executions", "type": type_, "sequence": seq, "data": list(items)}
    ).encode()


def _feed(mapper: KrakenExecutionMapper, *frames: bytes) -> list[Any]:
    dec = KrakenDecoders()
    out = []
    for raw in frames:
        frame = dec.decode_frame(raw)
        mapper.check_sequence(frame.sequence)
        out += mapper.map_all(dec.execution_data(frame), ts_ingest=1)
    return out


def _new(ts: str = "2023-09-22T10:33:00.000000Z") -> dict[str, Any]:
    return {**ORDER, "exec_type": "new", "order_status": "new", "timestamp": ts}


def _trade(exec_id: str, qty: str, cum: str, status: str) -> dict[str, Any]:
    return {
        **DOC_TRADE,
        "exec_id": exec_id,
        "last_qty": float(qty),
        "cum_qty": float(cum),
        "order_status": status,
    }


def test_documented_trade_maps_to_partial_with_fill_and_fee() -> None:
    (report,) = _feed(KrakenExecutionMapper(), _frame(5, DOC_TRADE))
    assert report.state is ExecState.PARTIAL
    assert report.client_order_id == "6d1b345e-2821-40e2-ad83-4ecb18a06876"
    assert report.venue_order_id == "OTGW01-AAAAA-BBBBBB"
    assert report.symbol == "BTC-USD"
    assert report.venue_symbol == "BTC/USD"
    assert report.side is Side.BUY
    assert report.last_qty == Decimal("0.5")
    assert report.last_price == Decimal("37500.0")
    assert report.cum_qty == Decimal("0.5")
    assert report.leaves_qty == Decimal("0.75")
    assert report.avg_price == Decimal("37500.0")
    assert report.fee == Decimal("30.0")
    assert report.fee_asset == "USD"
    assert report.venue_status == "trade/partially_filled"
    assert report.event_id == "kraken:BTC-USD:ExecReport:TGW001-CCCCC-DDDDDD"


def test_completing_trade_says_partially_filled_then_filled_carries_no_fill() -> None:
    # kraken.md section 0 point 5: the last trade still says partially_filled; the
    # separate ``filled`` is a completion notice, not another fill.
    filled_notice = {**ORDER, "exec_type": "filled", "order_status": "filled", "cum_qty": 1.25,
                     "timestamp": "2023-09-22T10:33:06.000000Z"}  # fmt: skip
    reports = _feed(
        KrakenExecutionMapper(),
        _frame(1, _new()),
        _frame(2, _trade("T1", "0.5", "0.5", "partially_filled")),
        _frame(3, _trade("T2", "0.75", "1.25", "partially_filled")),
        _frame(4, filled_notice),
    )
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    assert sum(r.last_qty for r in reports) == Decimal("1.25")
    assert reports[-1].cum_qty == Decimal("1.25")
    assert reports[-1].leaves_qty == 0


def test_filled_notice_before_the_fill_is_final_without_a_fill() -> None:
    mapper = KrakenExecutionMapper()
    reports = _feed(
        mapper,
        _frame(1, _new()),
        _frame(2, {**ORDER, "exec_type": "filled", "order_status": "filled", "cum_qty": 1.25}),
    )
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.FILLED]
    assert reports[-1].last_qty == 0


def test_duplicate_fills_and_repeated_states_are_reported_once() -> None:
    mapper = KrakenExecutionMapper()
    trade = _trade("T1", "0.5", "0.5", "partially_filled")
    reports = _feed(
        mapper,
        _frame(1, {**ORDER, "exec_type": "pending_new", "order_status": "pending_new"}),
        _frame(2, _new()),
        _frame(3, trade),
        _frame(4, trade),
    )
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.PARTIAL]


def test_cancel_after_partial_fill_keeps_cum_qty() -> None:
    reports = _feed(
        KrakenExecutionMapper(),
        _frame(1, _new()),
        _frame(2, _trade("T1", "0.5", "0.5", "partially_filled")),
        _frame(
            3,
            {
                **ORDER,
                "exec_type": "canceled",
                "order_status": "canceled",
                "cum_qty": 0.5,
                "reason": "User requested",
            },
        ),
        _frame(4, {**ORDER, "exec_type": "canceled", "order_status": "canceled"}),
    )
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.PARTIAL, ExecState.CANCELLED]
    assert reports[-1].cum_qty == Decimal("0.5")
    assert reports[-1].leaves_qty == 0
    assert reports[-1].reason == "User requested"
    assert reports[-1].last_qty == 0


def test_expired_and_amended() -> None:
    reports = _feed(
        KrakenExecutionMapper(),
        _frame(1, _new()),
        _frame(2, {**ORDER, "exec_type": "amended", "order_status": "new", "order_qty": 2.0}),
        _frame(3, {**ORDER, "exec_type": "expired", "order_status": "expired", "order_qty": 2.0}),
    )
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.ACK, ExecState.EXPIRED]
    assert reports[1].reason == "amended"
    assert reports[1].order_qty == Decimal("2.0")


def test_sequence_gaps_are_detected() -> None:
    mapper = KrakenExecutionMapper()
    assert not mapper.check_sequence(1)
    assert not mapper.check_sequence(2)
    assert mapper.check_sequence(4)
    assert mapper.gaps == 1
    mapper.reset_sequence()
    assert not mapper.check_sequence(1)


def test_registered_order_gets_its_client_id_when_the_venue_omits_it() -> None:
    mapper = KrakenExecutionMapper()
    mapper.register("OX", "tg-1", symbol="BTC-USD", side=Side.SELL, order_qty=Decimal("2"))
    (report,) = _feed(
        mapper, _frame(1, {"exec_type": "new", "order_status": "new", "order_id": "OX"})
    )
    assert report.client_order_id == "tg-1"
    assert report.leaves_qty == Decimal("2")
    assert mapper.client_order_id("OX") == "tg-1"


def test_finished_orders_window_is_bounded() -> None:
    mapper = KrakenExecutionMapper(max_finished=2)
    for i in range(5):
        oid = f"O{i}"
        _feed(mapper, _frame(i + 1, {**ORDER, "order_id": oid, "exec_type": "canceled",
                                     "order_status": "canceled"}))  # fmt: skip
    assert mapper.client_order_id("O4") is not None
    assert mapper.client_order_id("O0") is None


def test_recorded_emulator_sweep_is_ack_partial_filled() -> None:
    # Recorded from our emulator: a buy sweeping two ask levels; the venue sends the
    # completing trade as partially_filled, then a separate filled notice.
    frames = json.loads((RESOURCES / "kraken_executions_sweep_fill.json").read_text())
    raw = [json.dumps(f).encode() for f in frames]
    reports = _feed(KrakenExecutionMapper(), *raw)
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    order_qty = reports[0].order_qty
    assert order_qty is not None
    assert sum(r.last_qty for r in reports) == order_qty == reports[-1].cum_qty
    assert reports[-1].client_order_id == "tg-rec-0001"


def test_recorded_emulator_fills_carry_cost_avg_price_and_fee_usd_equiv() -> None:
    # kraken.md section 5: a trade entry carries cost, avg_price and fee_usd_equiv.
    text = (RESOURCES / "kraken_executions_sweep_fill.json").read_text()
    frames = json.loads(text, parse_float=Decimal)
    fills = [e for f in frames for e in f["data"] if e["exec_type"] == "trade"]
    assert len(fills) == 2
    cum = Decimal(0)
    for fill in fills:
        assert fill["cost"] == fill["last_qty"] * fill["last_price"]
        cum += fill["cost"]
        assert fill["cum_cost"] == cum
        assert fill["avg_price"] == cum / fill["cum_qty"]
        assert fill["fees"][0]["asset"] == "USD"
        assert fill["fee_usd_equiv"] == fill["fees"][0]["qty"]
    raw = [line.rstrip(",").encode() for line in text.strip()[1:-1].strip().splitlines()]
    reports = _feed(KrakenExecutionMapper(), *raw)  # the frames as sent, digits exact
    assert [r.state for r in reports] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    assert reports[-1].avg_price == fills[-1]["avg_price"]


def test_cost_is_used_when_cum_cost_and_avg_price_are_absent() -> None:
    bare = {k: v for k, v in DOC_TRADE.items() if k not in ("cum_cost", "avg_price", "last_price")}
    first = {**bare, "exec_id": "E1", "cost": 18750.0, "cum_qty": 0.5}
    second = {**bare, "exec_id": "E2", "cost": 18800.0, "cum_qty": 1.0}
    reports = _feed(KrakenExecutionMapper(), _frame(1, first), _frame(2, second))
    assert [r.avg_price for r in reports] == [Decimal("37500"), Decimal("37550")]

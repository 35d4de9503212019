"""``user`` channel and REST orders -> canonical ExecReports (protocol notes section 5)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from tradegw_coinbase.parsing import decode_frame
from tradegw_coinbase.reports import UserOrderTracker, report_from_rest_order
from tradegw_coinbase.schemas import CoinbaseOrderMsg, CoinbaseUserMsg, CoinbaseUserOrder

from tradegw_core.schema.events import ExecState, Side

D = Decimal


def _order(
    status: str, cum: str, leaves: str, value: str = "0", fees: str = "0"
) -> CoinbaseUserOrder:
    return CoinbaseUserOrder(
        order_id="11111111-2222-3333-4444-555555555555",
        client_order_id="2c9a1f0e-6f4b-4d6e-9c1a-000000000001",
        product_id="BTC-USD",
        status=status,
        order_side="BUY",
        order_type="Limit",
        limit_price="60000.00",
        cumulative_quantity=cum,
        leaves_quantity=leaves,
        avg_price="60000.00" if cum != "0" else "0",
        filled_value=value,
        total_fees=fees,
    )


def test_real_user_snapshot_is_an_ack(coinbase_data: Path) -> None:
    msg = decode_frame((coinbase_data / "ws_user.json").read_bytes())
    assert isinstance(msg, CoinbaseUserMsg)
    (report,) = UserOrderTracker().on_message(msg, ts_ingest=5, seq=1)
    assert report.state is ExecState.ACK
    assert report.client_order_id == "11111-000000-000001"
    assert report.venue_order_id == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    assert report.symbol == "BTC-USD"
    assert report.side is Side.BUY
    assert (report.cum_qty, report.leaves_qty, report.last_qty) == (D(0), D("0.001"), D(0))
    assert report.venue_status == "OPEN"
    assert report.seq_provider == 1
    assert report.ts_exchange is not None
    assert report.ts_ingest == 5


def test_real_user_snapshot_redelivered_gives_nothing_new(coinbase_data: Path) -> None:
    msg = decode_frame((coinbase_data / "ws_user.json").read_bytes())
    assert isinstance(msg, CoinbaseUserMsg)
    tracker = UserOrderTracker()
    assert len(tracker.on_message(msg)) == 1
    assert tracker.on_message(msg) == []  # a re-subscribe snapshot repeats the state


def test_ack_partial_filled_with_fills_from_cumulative_deltas() -> None:
    tracker = UserOrderTracker()
    seen = []
    for order in (
        _order("PENDING", "0", "0.001"),
        _order("OPEN", "0", "0.001"),  # same ACK again: nothing
        _order("OPEN", "0.0004", "0.0006", "24.00", "0.144"),  # example of the notes
        _order("OPEN", "0.0004", "0.0006", "24.00", "0.144"),  # repeat: nothing
        _order("FILLED", "0.001", "0", "60.06", "0.36"),
    ):
        seen.extend(tracker.on_order(order))
    assert [r.state for r in seen] == [ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED]
    partial, filled = seen[1], seen[2]
    assert (partial.last_qty, partial.cum_qty, partial.leaves_qty) == (
        D("0.0004"),
        D("0.0004"),
        D("0.0006"),
    )
    assert partial.last_price == D("60000")
    assert partial.fee == D("0.144")
    assert partial.fee_asset == "USD"
    assert partial.order_qty == D("0.001")
    # The remaining delta is the last fill; its price from the filled_value delta.
    assert (filled.last_qty, filled.cum_qty, filled.leaves_qty) == (D("0.0006"), D("0.001"), D(0))
    assert filled.last_price == D("36.06") / D("0.0006")
    assert filled.fee == D("0.216")
    assert len({r.event_id for r in seen}) == 3
    # After a final state nothing more is reported for the order.
    assert tracker.on_order(_order("CANCELLED", "0.001", "0")) == []


def test_cancel_queued_is_no_change_and_a_late_fill_precedes_the_cancel() -> None:
    tracker = UserOrderTracker()
    tracker.on_order(_order("OPEN", "0", "0.001"))
    assert tracker.on_order(_order("CANCEL_QUEUED", "0", "0.001")) == []
    assert tracker.on_order(_order("UNKNOWN_ORDER_STATUS", "0", "0.001")) == []
    out = tracker.on_order(_order("CANCELLED", "0.0002", "0", "12.00"))
    assert [r.state for r in out] == [ExecState.PARTIAL, ExecState.CANCELLED]
    assert out[0].last_qty == D("0.0002")
    assert out[1].last_qty == D(0)
    assert out[1].cum_qty == D("0.0002")


def test_failed_is_rejected_and_expired_is_expired() -> None:
    tracker = UserOrderTracker()
    failed = msgspec.structs.replace(
        _order("FAILED", "0", "0"), reject_reason="INSUFFICIENT_FUND", order_id="o-2"
    )
    (rej,) = tracker.on_order(failed)
    assert rej.state is ExecState.REJECTED
    assert rej.reason == "INSUFFICIENT_FUND"
    (exp,) = tracker.on_order(msgspec.structs.replace(_order("EXPIRED", "0", "0"), order_id="o-3"))
    assert exp.state is ExecState.EXPIRED


def test_final_orders_are_forgotten_beyond_the_bound() -> None:
    tracker = UserOrderTracker(max_final=2)
    for n in range(3):
        tracker.on_order(msgspec.structs.replace(_order("FILLED", "1", "0"), order_id=f"o{n}"))
    assert tracker.known("o0") is None
    assert tracker.known("o2") is not None


def test_rest_orders_real_captures(coinbase_data: Path) -> None:
    one = msgspec.json.decode((coinbase_data / "http_order.json").read_bytes())["order"]
    report = report_from_rest_order(msgspec.convert(one, CoinbaseOrderMsg))
    assert report is not None
    # OPEN with filled_size > 0 is a partial fill; the state carries no new fill.
    assert report.state is ExecState.PARTIAL
    assert (report.cum_qty, report.order_qty, report.price) == (
        D("0.001"),
        D("0.001"),
        D("10000.00"),
    )
    assert report.client_order_id == "11111-000000-000000"
    assert report.last_qty == D(0)
    listing = msgspec.json.decode((coinbase_data / "http_orders_list.json").read_bytes())
    states = [
        r.state if (r := report_from_rest_order(msgspec.convert(o, CoinbaseOrderMsg))) else None
        for o in listing["orders"]
    ]
    assert states[:2] == [ExecState.ACK, ExecState.FILLED]
    unknown = CoinbaseOrderMsg(order_id="x", status="UNKNOWN_ORDER_STATUS")
    assert report_from_rest_order(unknown) is None

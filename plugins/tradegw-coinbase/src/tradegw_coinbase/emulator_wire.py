"""Pure encoders of the Coinbase emulator: simulator objects -> the venue's JSON shapes.

Kept free of I/O so the exact frames are unit-tested and recorded as fixtures
(``tests/resources/coinbase_<channel>_<variant>.json``). Shapes follow the protocol notes
(sections 1.3-1.4, 3, 4.2 and 5) field for field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from tradegw_coinbase.parsing import format_time
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.market import LevelChange, SimTrade, SymbolSpec
from tradegw_core.sim.matching import ExecEvent, OrderState, RejectReason

__all__ = [
    "CandleBuilder",
    "encode_frame",
    "failure_reason",
    "format_time",
    "l2_changes",
    "l2_event",
    "order_int",
    "order_uuid",
    "product_json",
    "rest_order_json",
    "ticker_json",
    "trade_json",
    "user_order_json",
]

_NS = 1_000_000_000
_ENCODER = msgspec.json.Encoder(decimal_format="string")

USER_STATUS = {
    OrderState.NEW: "OPEN",
    OrderState.PARTIALLY_FILLED: "OPEN",
    OrderState.FILLED: "FILLED",
    OrderState.CANCELED: "CANCELLED",
    OrderState.EXPIRED: "EXPIRED",
    OrderState.REJECTED: "FAILED",
}
TIF_WIRE = {
    TimeInForce.GTC: "GOOD_UNTIL_CANCELLED",
    TimeInForce.IOC: "IMMEDIATE_OR_CANCEL",
    TimeInForce.FOK: "FILL_OR_KILL",
}
_FAILURES = {
    RejectReason.INSUFFICIENT_BALANCE: "INSUFFICIENT_FUND",
    RejectReason.BAD_PRICE: "INVALID_LIMIT_PRICE",
    RejectReason.BAD_PRICE_STEP: "INVALID_PRICE_PRECISION",
    RejectReason.BAD_QTY: "INVALID_SIZE_PRECISION",
    RejectReason.BAD_QTY_STEP: "INVALID_SIZE_PRECISION",
    RejectReason.MIN_NOTIONAL: "INVALID_REQUEST",
    RejectReason.INJECTED: "COMMANDER_REJECTED_NEW_ORDER",
}


def order_uuid(order_id: int) -> str:
    """The engine's integer order id in the venue's UUID form."""
    return str(uuid.UUID(int=order_id))


def order_int(order_id: str) -> int | None:
    """Back from :func:`order_uuid`; None when the text is not one of ours."""
    try:
        return uuid.UUID(order_id).int
    except ValueError:
        return None


def encode_frame(channel: str, seq: int, ts_ns: int, events: Sequence[Any]) -> bytes:
    """One WebSocket data frame (the envelope of section 1.3)."""
    return _ENCODER.encode(
        {
            "channel": channel,
            "client_id": "",
            "timestamp": format_time(ts_ns),
            "sequence_num": seq,
            "events": list(events),
        }
    )


def _wire_side(side: Side) -> str:
    return "bid" if side is Side.BUY else "offer"


def l2_event(
    kind: str,
    product_id: str,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    ts_ns: int,
) -> dict[str, Any]:
    """An ``l2_data`` event (``snapshot`` or ``update``); snapshot times are not meaningful."""
    when = format_time(ts_ns if kind == "update" else 0)
    updates = [
        {"side": side, "event_time": when, "price_level": str(p), "new_quantity": str(q)}
        for side, levels in (("bid", bids), ("offer", asks))
        for p, q in levels
    ]
    return {"type": kind, "product_id": product_id, "updates": updates}


def l2_changes(changes: Iterable[LevelChange]) -> tuple[list[tuple[Decimal, Decimal]], ...]:
    """Split simulator level changes into (bids, asks) of absolute sizes."""
    bids = [(c.price, c.qty) for c in changes if c.side is Side.BUY]
    asks = [(c.price, c.qty) for c in changes if c.side is Side.SELL]
    return bids, asks


def trade_json(trade: SimTrade) -> dict[str, Any]:
    """A ``market_trades`` trade; ``side`` is the maker's side (the aggressor's opposite)."""
    return {
        "trade_id": str(trade.trade_id),
        "product_id": trade.symbol,
        "price": str(trade.price),
        "size": str(trade.qty),
        "side": "SELL" if trade.aggressor is Side.BUY else "BUY",
        "time": format_time(trade.ts_ns),
    }


def ticker_json(
    product_id: str,
    price: Decimal,
    best_bid: tuple[Decimal, Decimal] | None,
    best_ask: tuple[Decimal, Decimal] | None,
    volume_24h: Decimal,
) -> dict[str, Any]:
    """A ``ticker`` entry (the 24 h/52 w figures the emulator does not track are the price)."""
    out: dict[str, Any] = {
        "type": "ticker",
        "product_id": product_id,
        "price": str(price),
        "volume_24_h": str(volume_24h),
        "low_24_h": str(price),
        "high_24_h": str(price),
        "low_52_w": str(price),
        "high_52_w": str(price),
        "price_percent_chg_24_h": "0",
    }
    if best_bid is not None:
        out["best_bid"], out["best_bid_quantity"] = str(best_bid[0]), str(best_bid[1])
    if best_ask is not None:
        out["best_ask"], out["best_ask_quantity"] = str(best_ask[0]), str(best_ask[1])
    return out


class CandleBuilder:
    """5-minute candles per product built from trades (the channel's fixed granularity)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def on_trade(self, product_id: str, ts_ns: int, price: Decimal, qty: Decimal) -> dict[str, Any]:
        """Fold one trade in; return the product's current candle."""
        start = ts_ns // _NS // 300 * 300
        c = self._open.get(product_id)
        if c is None or c["start"] != str(start):
            c = {"start": str(start), "high": price, "low": price, "open": price, "close": price}
            c["volume"], c["product_id"] = Decimal(0), product_id
            self._open[product_id] = c
        c["high"], c["low"] = max(c["high"], price), min(c["low"], price)
        c["close"], c["volume"] = price, c["volume"] + qty
        return {k: str(v) for k, v in c.items()}

    def current(self, product_id: str) -> dict[str, Any] | None:
        """The open candle of a product, if it traded."""
        c = self._open.get(product_id)
        return None if c is None else {k: str(v) for k, v in c.items()}


def product_json(spec: SymbolSpec) -> dict[str, Any]:
    """A ``/market/products`` entry for a simulated symbol."""
    return {
        "product_id": spec.symbol,
        "price": str(spec.price),
        "base_increment": str(spec.lot),
        "quote_increment": str(spec.tick),
        "price_increment": str(spec.tick),
        "base_min_size": str(spec.lot),
        "base_max_size": "1000000",
        "quote_min_size": str(spec.min_notional),
        "quote_max_size": "100000000",
        "status": "online",
        "trading_disabled": False,
        "is_disabled": False,
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "base_currency_id": spec.base,
        "quote_currency_id": spec.quote,
        "alias": "",
        "alias_to": [],
    }


def failure_reason(reason: RejectReason | None) -> str:
    """The venue's ``new_order_failure_reason`` for an engine refusal."""
    return _FAILURES.get(reason, "UNKNOWN_FAILURE_REASON") if reason else "UNKNOWN_FAILURE_REASON"


def _value_after_fees(e: ExecEvent) -> Decimal:
    return e.cum_quote + e.cum_fee if e.side is Side.BUY else e.cum_quote - e.cum_fee


def user_order_json(e: ExecEvent, fills: int) -> dict[str, Any]:
    """A ``user`` channel order (section 5), cumulative fields only."""
    status = USER_STATUS[e.state]
    return {
        "order_id": order_uuid(e.order_id),
        "client_order_id": e.client_order_id,
        "product_id": e.symbol,
        "product_type": "SPOT",
        "order_side": "BUY" if e.side is Side.BUY else "SELL",
        "order_type": "Limit" if e.order_type is OrderType.LIMIT else "Market",
        "status": status,
        "time_in_force": TIF_WIRE[e.time_in_force],
        "limit_price": str(e.price) if e.price is not None else "",
        "cumulative_quantity": str(e.cum_qty),
        "leaves_quantity": str(e.leaves_qty),
        "avg_price": str(e.avg_price) if e.avg_price is not None else "0",
        "number_of_fills": str(fills),
        "filled_value": str(e.cum_quote),
        "total_fees": str(e.cum_fee),
        "total_value_after_fees": str(_value_after_fees(e)),
        "creation_time": format_time(e.created_ns),
        "cancel_reason": "User requested cancel" if e.state is OrderState.CANCELED else "",
        "reject_reason": failure_reason(e.reason) if e.state is OrderState.REJECTED else "",
        "trigger_status": "INVALID_ORDER_TYPE",
        "outstanding_hold_amount": "0",
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
    }


def rest_order_json(
    e: ExecEvent, configuration: Mapping[str, Any], fills: int, user_id: str
) -> dict[str, Any]:
    """A ``GET /orders/historical/{id}`` order."""
    done = e.qty and (e.cum_qty / e.qty * 100)
    return {
        "order_id": order_uuid(e.order_id),
        "product_id": e.symbol,
        "user_id": user_id,
        "order_configuration": dict(configuration),
        "side": "BUY" if e.side is Side.BUY else "SELL",
        "client_order_id": e.client_order_id,
        "status": USER_STATUS[e.state],
        "time_in_force": TIF_WIRE[e.time_in_force],
        "created_time": format_time(e.created_ns),
        "completion_percentage": str(done),
        "filled_size": str(e.cum_qty),
        "average_filled_price": str(e.avg_price) if e.avg_price is not None else "0",
        "fee": "",
        "number_of_fills": str(fills),
        "filled_value": str(e.cum_quote),
        "pending_cancel": False,
        "size_in_quote": False,
        "total_fees": str(e.cum_fee),
        "size_inclusive_of_fees": False,
        "total_value_after_fees": str(_value_after_fees(e)),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": "LIMIT" if e.order_type is OrderType.LIMIT else "MARKET",
        "reject_reason": failure_reason(e.reason) if e.state is OrderState.REJECTED else "",
        "settled": not e.state.is_open,
        "product_type": "SPOT",
        "reject_message": e.message if e.state is OrderState.REJECTED else "",
        "cancel_message": "User requested cancel" if e.state is OrderState.CANCELED else "",
    }

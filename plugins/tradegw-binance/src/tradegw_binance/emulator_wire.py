"""Binance wire encoding for the emulator: simulator and matching-engine values -> JSON.

Pure functions, so the emulator's frames can be checked against the adapter's own
decoders (a round trip through ``schemas.py``) without a socket. Field names and framing
follow binance.md sections 1.4, 3, 4 and 5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from tradegw_core.schema.events import Side
from tradegw_core.sim.matching import ExecEvent, Liquidity, OrderState, RejectReason
from tradegw_core.sim.specs import SymbolSpec

__all__ = [
    "dec",
    "depth_update",
    "error_body",
    "exchange_info",
    "execution_report",
    "order_json",
    "reject_error",
    "stream_frame",
]

_MS = 1_000_000
_encoder = msgspec.json.Encoder(decimal_format="string")

# matching-engine state -> (execution type x, order status X)
_X: dict[OrderState, tuple[str, str]] = {
    OrderState.NEW: ("NEW", "NEW"),
    OrderState.PARTIALLY_FILLED: ("TRADE", "PARTIALLY_FILLED"),
    OrderState.FILLED: ("TRADE", "FILLED"),
    OrderState.CANCELED: ("CANCELED", "CANCELED"),
    OrderState.REJECTED: ("REJECTED", "REJECTED"),
    OrderState.EXPIRED: ("EXPIRED", "EXPIRED"),
}

_FILTER_BY_REASON: dict[RejectReason, str] = {
    RejectReason.BAD_PRICE: "PRICE_FILTER",
    RejectReason.BAD_PRICE_STEP: "PRICE_FILTER",
    RejectReason.BAD_QTY: "LOT_SIZE",
    RejectReason.BAD_QTY_STEP: "LOT_SIZE",
    RejectReason.MIN_NOTIONAL: "NOTIONAL",
}


def dec(value: Decimal | None) -> str:
    """A Decimal as the venue prints prices and quantities: 8 decimals (None: zero).

    rest-api.md's answers and the stream examples render every price, quantity and
    commission with 8 decimals (``"4.00000200"``, ``"0.00000000"``).
    """
    return f"{value if value is not None else 0:.8f}"


def venue_symbol(symbol: str) -> str:
    """``BTC-USDT`` -> ``BTCUSDT``."""
    return symbol.replace("-", "")


def stream_frame(stream: str, data: Mapping[str, Any], *, combined: bool) -> str:
    """One market frame: ``{"stream", "data"}`` on combined connections, else the payload."""
    obj = {"stream": stream, "data": data} if combined else data
    return _encoder.encode(obj).decode()


def depth_update(
    symbol: str,
    first: int,
    last: int,
    bids: Iterable[tuple[Decimal, Decimal]],
    asks: Iterable[tuple[Decimal, Decimal]],
    event_ms: int,
) -> dict[str, Any]:
    """A ``depthUpdate`` covering update ids ``first``..``last`` (absolute quantities)."""
    return {
        "e": "depthUpdate",
        "E": event_ms,
        "s": venue_symbol(symbol),
        "U": first,
        "u": last,
        "b": [[dec(p), dec(q)] for p, q in bids],
        "a": [[dec(p), dec(q)] for p, q in asks],
    }


def exchange_info(specs: Sequence[SymbolSpec], server_ms: int) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo`` for the emulated symbols."""
    symbols = []
    for spec in specs:
        symbols.append(
            {
                "symbol": venue_symbol(spec.symbol),
                "status": "TRADING",
                "baseAsset": spec.base,
                "baseAssetPrecision": 8,
                "quoteAsset": spec.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "MARKET"],
                "isSpotTradingAllowed": True,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": dec(spec.tick),
                     "maxPrice": "10000000", "tickSize": dec(spec.tick)},
                    {"filterType": "LOT_SIZE", "minQty": dec(spec.lot),
                     "maxQty": "100000", "stepSize": dec(spec.lot)},
                    {"filterType": "NOTIONAL", "minNotional": dec(spec.min_notional),
                     "applyMinToMarket": True, "maxNotional": "9000000",
                     "applyMaxToMarket": False, "avgPriceMins": 5},
                ],
            }
        )  # fmt: skip
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }  # fmt: skip


def _side(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def order_json(
    ev: ExecEvent, *, resp_type: str = "RESULT", orig_client_order_id: str | None = None
) -> dict[str, Any]:
    """An order answer (new / cancel / query) shaped like the venue's ``RESULT``."""
    out: dict[str, Any] = {
        "symbol": venue_symbol(ev.symbol),
        "orderId": ev.order_id,
        "orderListId": -1,
        "clientOrderId": ev.client_order_id,
        "transactTime": ev.ts_ns // _MS,
    }
    if orig_client_order_id is not None:
        out["origClientOrderId"] = orig_client_order_id
    if resp_type == "ACK":
        return out
    out.update(
        {
            "price": dec(ev.price),
            "origQty": dec(ev.qty),
            "executedQty": dec(ev.cum_qty),
            "origQuoteOrderQty": dec(None),
            "cummulativeQuoteQty": dec(ev.cum_quote),
            "status": _X[ev.state][1],
            "timeInForce": ev.time_in_force.value,
            "type": ev.order_type.value,
            "side": _side(ev.side),
            "workingTime": ev.created_ns // _MS,
            "selfTradePreventionMode": "NONE",
        }
    )
    return out


def execution_report(ev: ExecEvent, exec_id: int) -> dict[str, Any]:
    """The ``executionReport`` event of one matching-engine state change."""
    x, status = _X[ev.state]
    filled = ev.last_qty > 0
    return {
        "e": "executionReport",
        "E": ev.ts_ns // _MS,
        "s": venue_symbol(ev.symbol),
        "c": ev.client_order_id,
        "S": _side(ev.side),
        "o": ev.order_type.value,
        "f": ev.time_in_force.value,
        "q": dec(ev.qty),
        "p": dec(ev.price),
        "P": dec(None),
        "F": dec(None),
        "g": -1,
        "C": "",
        "x": x,
        "X": status,
        "r": "NONE",
        "i": ev.order_id,
        "l": dec(ev.last_qty),
        "z": dec(ev.cum_qty),
        "L": dec(ev.last_price),
        "n": dec(ev.fee),
        "N": ev.fee_asset if filled and ev.fee_asset else None,
        "T": ev.ts_ns // _MS,
        "t": ev.trade_id if ev.trade_id is not None else -1,
        "I": exec_id,
        "w": ev.state.is_open,
        "m": ev.liquidity is Liquidity.MAKER,
        "M": False,
        "O": ev.created_ns // _MS,
        "Z": dec(ev.cum_quote),
        "Y": dec(ev.last_qty * ev.last_price),
        "Q": dec(None),
        "W": ev.created_ns // _MS,
        "V": "NONE",
    }


def error_body(code: int, msg: str) -> dict[str, Any]:
    """``{"code": ..., "msg": ...}``."""
    return {"code": code, "msg": msg}


def reject_error(ev: ExecEvent) -> tuple[int, str]:
    """The venue error (code, message) for a refused order."""
    reason = ev.reason
    if reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID:
        return -2010, "Duplicate order sent."
    if reason is RejectReason.INSUFFICIENT_BALANCE:
        return -2010, "Account has insufficient balance for requested action."
    if reason is not None and reason in _FILTER_BY_REASON:
        return -1013, f"Filter failure: {_FILTER_BY_REASON[reason]}"
    if reason is RejectReason.UNKNOWN_ORDER:
        return -2011, "Unknown order sent."
    return -2010, ev.message or "New order rejected."

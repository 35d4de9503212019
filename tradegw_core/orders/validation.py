"""Order validation with errors a user can act on.

Pure functions: they see the request, the venue's instruments and its client-order-id rule,
and return None or an :class:`OrderValidationError` whose ``reason`` is a short word
(``invalid``, ``unknown_symbol``, ``bad_client_order_id``, ``qty_step``, ``price_step``,
``min_qty``, ``max_qty``, ``min_notional``) and whose message says what to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pydantic

from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.errors import OrderValidationError
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["parse_order", "validate_order"]


def parse_order(raw: OrderRequest | Mapping[str, Any]) -> OrderRequest:
    """Return ``raw`` as an OrderRequest; raise OrderValidationError naming every bad field."""
    if isinstance(raw, OrderRequest):
        return raw
    try:
        return OrderRequest.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "order"
            if err["type"] == "missing":
                problems.append(f"missing field {field!r}")
            else:
                problems.append(f"{field}: {err['msg']}")
        raise OrderValidationError("invalid order: " + "; ".join(problems)) from None


def _neighbours(value: Decimal, step: Decimal) -> str:
    low = (value // step) * step
    return f"{low.normalize():f} or {(low + step).normalize():f}"


def _check_instrument(order: OrderRequest, inst: Instrument, last: Decimal | None) -> None:
    where = f"{order.symbol} on {order.provider}"
    if not inst.qty_on_step(order.qty):
        raise OrderValidationError(
            f"qty {order.qty} is not a multiple of the qty step {inst.qty_step} for {where}; "
            f"use {_neighbours(order.qty, inst.qty_step)}",
            reason="qty_step",
        )
    if order.price is not None and not inst.price_on_step(order.price):
        raise OrderValidationError(
            f"price {order.price} is not a multiple of the price step {inst.price_step} for "
            f"{where}; use {_neighbours(order.price, inst.price_step)}",
            reason="price_step",
        )
    if order.qty < inst.min_qty:
        raise OrderValidationError(
            f"qty {order.qty} is below the minimum {inst.min_qty} for {where}", reason="min_qty"
        )
    if inst.max_qty is not None and order.qty > inst.max_qty:
        raise OrderValidationError(
            f"qty {order.qty} is above the maximum {inst.max_qty} for {where}", reason="max_qty"
        )
    price = order.price if order.price is not None else last
    if price is not None and inst.min_notional > 0 and order.qty * price < inst.min_notional:
        raise OrderValidationError(
            f"order notional {order.qty * price} {inst.quote} is below the minimum "
            f"{inst.min_notional} for {where}; raise qty to at least "
            f"{(inst.min_notional / price).quantize(inst.qty_step, rounding='ROUND_UP')}",
            reason="min_notional",
        )


def validate_order(
    order: OrderRequest, adapter: OrderAdapter, last_trade_price: Decimal | None
) -> Instrument:
    """Check ``order`` against its venue; return the instrument or raise OrderValidationError.

    ``last_trade_price`` values a market order for the min-notional rule (skipped without).
    """
    why = adapter.validate_client_order_id(order.client_order_id)
    if why is not None:
        raise OrderValidationError(
            f"client_order_id {order.client_order_id!r} is not valid on {order.provider}: {why}",
            reason="bad_client_order_id",
        )
    instruments = adapter.instruments()
    inst = instruments.get(Symbol(order.symbol))
    if inst is None:
        close = difflib.get_close_matches(order.symbol, list(instruments), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise OrderValidationError(
            f"unknown symbol {order.symbol!r} on {order.provider} (symbols are canonical "
            f"BASE-QUOTE){hint}",
            reason="unknown_symbol",
        )
    _check_instrument(order, inst, last_trade_price)
    return inst

"""Value types of the matching engine: order states, reject reasons, execution events."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce

__all__ = [
    "ExecEvent",
    "ExecListener",
    "Liquidity",
    "OrderIntent",
    "OrderState",
    "RejectReason",
]

_ZERO = Decimal(0)


class OrderState(enum.StrEnum):
    """Venue-neutral order states (each venue maps them to its words)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        """True while the order can still fill."""
        return self in (OrderState.NEW, OrderState.PARTIALLY_FILLED)


class RejectReason(enum.StrEnum):
    """Why an order or a cancel was refused."""

    INSUFFICIENT_BALANCE = "insufficient_balance"
    BAD_PRICE = "bad_price"
    BAD_PRICE_STEP = "bad_price_step"
    BAD_QTY = "bad_qty"
    BAD_QTY_STEP = "bad_qty_step"
    MIN_NOTIONAL = "min_notional"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    INJECTED = "injected"


class Liquidity(enum.StrEnum):
    """Whether a fill added (maker) or took (taker) liquidity."""

    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True)
class OrderIntent:
    """An order as asked for (what ``FaultPlan.order`` predicates see)."""

    venue: str
    symbol: str
    account: str
    client_order_id: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal | None
    time_in_force: TimeInForce


@dataclass(frozen=True, slots=True)
class ExecEvent:
    """One order state change with what a venue's user stream needs.

    ``last_*``, ``fee`` and ``trade_id`` describe this fill (zero / None otherwise);
    ``cum_*`` are cumulative. ``order_id`` is a venue-wide counter (0 for a refused cancel
    of an unknown order).
    """

    venue: str
    symbol: str
    account: str
    order_id: int
    client_order_id: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: Decimal | None
    qty: Decimal
    state: OrderState
    cum_qty: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    cum_fee: Decimal = _ZERO
    last_qty: Decimal = _ZERO
    last_price: Decimal = _ZERO
    fee: Decimal = _ZERO
    fee_asset: str = ""
    trade_id: int | None = None
    liquidity: Liquidity | None = None
    reason: RejectReason | None = None
    message: str = ""
    created_ns: int = 0
    ts_ns: int = 0
    seq: int = 0

    @property
    def leaves_qty(self) -> Decimal:
        """What can still fill (0 once final)."""
        return self.qty - self.cum_qty if self.state.is_open else _ZERO

    @property
    def avg_price(self) -> Decimal | None:
        """Average fill price, None before the first fill."""
        return self.cum_quote / self.cum_qty if self.cum_qty else None


ExecListener = Callable[[ExecEvent], None]

"""Order requests and results (pydantic: they come from people and must fail clearly)."""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradegw_core.schema.events import ExecReport, ExecState, Side

__all__ = [
    "CancelRequest",
    "CancelResult",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "OrderType",
    "TimeInForce",
]


class OrderType(enum.StrEnum):
    """Order types every venue plugin maps."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(enum.StrEnum):
    """Good till cancelled, immediate or cancel, fill or kill."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderRequest(BaseModel):
    """A consumer's order, as it enters the order path."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str = Field(min_length=1, max_length=64)
    consumer_id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    symbol: str = Field(min_length=3)
    side: Side
    type: OrderType = OrderType.LIMIT
    qty: Decimal = Field(gt=0)
    price: Decimal | None = Field(default=None, gt=0)
    time_in_force: TimeInForce = TimeInForce.GTC
    decision_id: str = ""

    @model_validator(mode="after")
    def _price_matches_type(self) -> OrderRequest:
        if self.type is OrderType.LIMIT and self.price is None:
            raise ValueError("price: a LIMIT order needs a price")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("price: a MARKET order takes no price")
        return self

    @property
    def notional(self) -> Decimal | None:
        """qty * price, or None for a market order."""
        return None if self.price is None else self.qty * self.price


class CancelRequest(BaseModel):
    """Cancel one of the consumer's orders by its client order id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str = Field(min_length=1)
    consumer_id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    symbol: str = Field(min_length=3)


class OrderStatus(enum.StrEnum):
    """What happened to a submission, as the consumer sees it at once."""

    ACCEPTED = "ACCEPTED"
    """Sent to and acknowledged by the venue."""
    REJECTED = "REJECTED"
    """Refused locally (validation, risk) or by the venue."""
    SUPPRESSED = "SUPPRESSED"
    """Trading is switched off; nothing left the process."""
    DUPLICATE = "DUPLICATE"
    """The client_order_id was seen before; ``first`` carries that submission's result."""
    UNKNOWN = "UNKNOWN"
    """The venue's answer was lost; the gateway is resolving it by query."""


class OrderResult(msgspec.Struct, frozen=True, kw_only=True):
    """The typed answer to ``ConsumerContext.submit_order``."""

    client_order_id: str
    status: OrderStatus
    reason: str = ""
    message: str = ""
    venue_order_id: str | None = None
    state: ExecState | None = None
    report: ExecReport | None = None
    first: OrderResult | None = None
    retryable: bool = False
    """A REJECTED submission that certainly never reached the venue (it was unavailable,
    restarting or unreachable): submitting again may succeed."""

    @property
    def ok(self) -> bool:
        """True when the order is (or was, for a duplicate) live on the venue."""
        if self.status is OrderStatus.DUPLICATE and self.first is not None:
            return self.first.ok
        return self.status in (OrderStatus.ACCEPTED, OrderStatus.UNKNOWN)


class CancelResult(msgspec.Struct, frozen=True, kw_only=True):
    """The typed answer to ``ConsumerContext.cancel_order``."""

    client_order_id: str
    ok: bool
    reason: str = ""
    message: str = ""
    state: ExecState | None = None

"""Order-side plugin contracts: what a venue order adapter is and what it is given.

``Protocol``s the order path (``tradegw_core.orders``) depends on, never a venue. The
market-data and consumer contracts are in :mod:`tradegw_core.contracts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import msgspec
from anyio.abc import TaskStatus

from tradegw_core.contracts import VenueContext
from tradegw_core.schema.events import ExecReport
from tradegw_core.schema.orders import CancelRequest, OrderRequest
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["OrderAdapter", "OrderAdapterContext", "OrderAdapterFactory", "SubmitAck"]


class SubmitAck(msgspec.Struct, frozen=True, kw_only=True):
    """The venue accepted a submission (its own later reports come on the user stream)."""

    client_order_id: str
    venue_order_id: str | None = None
    report: ExecReport | None = None
    """An immediate state the venue returned with the ack (e.g. FILLED for a market order)."""


class OrderAdapter(Protocol):
    """A venue's order side; one per provider, owning its HTTP/WS clients.

    ``submit`` returns a :class:`SubmitAck`, raises ``VenueRejectedError`` (mapped code and a
    clear message) when the venue refused, or ``OrderOutcomeUnknownError`` when the answer
    was lost: the caller then resolves with ``query``, never by resending.
    """

    async def run(
        self, emit: Callable[[ExecReport], None], *, task_status: TaskStatus[None]
    ) -> None:
        """Run the user stream, calling ``emit`` for every ExecReport in venue order.

        After a reconnect it queries open and recently changed orders and emits what was
        missed, in order. Runs until cancelled.
        """
        ...

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable pairs, as the order path validates against them."""
        ...

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        """Return None when the id fits the venue's format, else why it does not."""
        ...

    async def submit(self, order: OrderRequest) -> SubmitAck:
        """Send a new order once."""
        ...

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        """Cancel by client order id; the venue's answer as a report when it gives one."""
        ...

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        """The order's current state on the venue, or None when the venue never saw it."""
        ...


class OrderAdapterContext(VenueContext, Protocol):
    """What the gateway hands an order adapter (the provider's name, settings, clock...)."""


OrderAdapterFactory = Callable[[OrderAdapterContext], OrderAdapter]
"""Registered under the provider's name by ``tradegw_register_order_adapters``."""

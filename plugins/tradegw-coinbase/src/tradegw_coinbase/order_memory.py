"""What the Coinbase order adapter sent, and the venue order ids it learnt.

Coinbase knows orders by its own id only, so the adapter keeps, per client order id, the
first submission (to answer a repeat without sending) and the venue id (for cancel and
query). Bounded: overflow policy ``evict_oldest`` beyond ``limit`` submissions.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import VenueError
from tradegw_core.schema.orders import OrderRequest

__all__ = ["OrderMemory", "SentOrder"]


@dataclass
class SentOrder:
    """One client order id's first submission: its request, body and how it went."""

    request: OrderRequest
    body: dict[str, Any]
    venue_order_id: str | None = None
    ack: SubmitAck | None = None
    error: VenueError | None = None
    unknown: bool = False


class OrderMemory:
    """Submissions and venue ids by client order id, oldest evicted first past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.submissions: OrderedDict[str, SentOrder] = OrderedDict()
        self.venue_ids: dict[str, str] = {}
        self._limit = limit

    def remember(self, coid: str, sub: SentOrder) -> None:
        """Record a new submission (evicting the oldest ones and their venue ids)."""
        self.submissions[coid] = sub
        while len(self.submissions) > self._limit:
            old, _ = self.submissions.popitem(last=False)
            self.venue_ids.pop(old, None)

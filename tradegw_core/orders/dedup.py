"""The order service's dedup table: which client order ids were used, and how it went.

Keyed by ``(provider, client_order_id)``. An id is reserved before the submission's first
await (concurrent twins wait for it), freed again when nothing left the process, and
pinned to an ``UNKNOWN`` result when sending failed after the order was journaled.
"""

from __future__ import annotations

import anyio

from tradegw_core.orders.submission import Submission
from tradegw_core.schema.orders import OrderResult, OrderStatus

__all__ = ["DedupKey", "DedupTable"]

DedupKey = tuple[str, str]
"""``(provider, client_order_id)``."""


class DedupTable:
    """Submissions by ``(provider, client_order_id)``, bounded by the journal's retention.

    Overflow policy ``expire``: entries leave with :meth:`forget` when the order service
    purges finished orders older than the dedup retention.
    """

    def __init__(self) -> None:
        self._subs: dict[DedupKey, Submission] = {}

    def remember(self, key: DedupKey, sub: Submission) -> None:
        """Record a submission reloaded from the journal."""
        self._subs[key] = sub

    def forget(self, key: DedupKey) -> None:
        """Free ``key`` (its order was purged)."""
        self._subs.pop(key, None)

    async def first_of(self, key: DedupKey) -> Submission | None:
        """The finished submission that already used ``key``, or None when it is free.

        A first submission still in flight is waited for, then looked at again (if it was
        refused locally its id is free again and the caller's one is checked on its own).
        """
        while (sub := self._subs.get(key)) is not None:
            if sub.result is not None:
                return sub
            await sub.wait_done()
        return None

    def reserve(self, key: DedupKey, consumer_id: str) -> Submission:
        """Take ``key`` for a new submission (call with no await since :meth:`first_of`)."""
        sub = Submission(consumer_id, None, anyio.Event())
        self._subs[key] = sub
        return sub

    def settle(self, key: DedupKey, sub: Submission) -> None:
        """End a reserved submission: free its id, or pin it, and wake the waiting twins."""
        if not sub.sent:
            self._subs.pop(key, None)  # nothing left the process: the id stays free
        elif sub.result is None:  # failed after journaling: never send this id again
            sub.result = OrderResult(
                client_order_id=key[1],
                status=OrderStatus.UNKNOWN,
                reason="outcome_unknown",
                message="the submission failed after it was journaled; it is resolved by "
                "querying the venue at the next start",
            )
        sub.finish()

"""The named overflow policies of a consumer's lane and the bounded dead-letter queue."""

from __future__ import annotations

import enum
from collections import deque

from tradegw_core.schema.events import Event

__all__ = ["DeadLetterQueue", "OverflowPolicy"]


class OverflowPolicy(enum.StrEnum):
    """What a full market-data lane does with one more event."""

    DLQ = "dlq"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class DeadLetterQueue:
    """Bounded store of events a lane could not take, with counters.

    ``total`` counts every event ever sent here; when full, the oldest entry is evicted and
    ``evicted`` counts it, so nothing vanishes without a number.
    """

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError(f"DLQ size must be >= 1, got {size}")
        self.size = size
        self._items: deque[tuple[str, Event]] = deque()
        self.total = 0
        self.evicted = 0

    def put(self, consumer_id: str, event: Event) -> None:
        """Keep ``event`` that ``consumer_id``'s lane refused."""
        self.total += 1
        if len(self._items) >= self.size:
            self._items.popleft()
            self.evicted += 1
        self._items.append((consumer_id, event))

    def items(self) -> list[tuple[str, Event]]:
        """What the DLQ holds now, oldest first."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

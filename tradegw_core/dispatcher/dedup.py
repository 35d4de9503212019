"""Dedup by ``event_id`` over a bounded window (design section 4: A/B feed arbitration).

Whichever copy of a venue message arrives first wins; later copies within the window are
dropped and counted. The window is an insertion-ordered dict used as a bounded set: when
full, the oldest id is forgotten (counted as ``evicted``), so memory never grows.
A set answers membership and a deque remembers arrival order (popping a dict's first key
after many deletions degrades to a linear scan, so a plain dict is not used).
"""

from __future__ import annotations

from collections import deque

__all__ = ["DedupWindow"]


class DedupWindow:
    """Remember the last ``size`` event ids."""

    __slots__ = ("_order", "_seen", "duplicates", "evicted", "size")

    def __init__(self, size: int = 100_000) -> None:
        if size < 1:
            raise ValueError(f"dedup window size must be >= 1, got {size}")
        self.size = size
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self.duplicates = 0
        self.evicted = 0

    def first_seen(self, event_id: str) -> bool:
        """True (and remember it) the first time ``event_id`` is seen; False for a copy."""
        seen = self._seen
        if event_id in seen:
            self.duplicates += 1
            return False
        seen.add(event_id)
        order = self._order
        order.append(event_id)
        if len(order) > self.size:
            seen.discard(order.popleft())
            self.evicted += 1
        return True

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._seen

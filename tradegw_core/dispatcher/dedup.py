"""Dedup by ``event_id`` over a bounded window (design section 4: A/B feed arbitration).

Whichever copy of a venue message arrives first wins; later copies within the window are
dropped and counted. The window is two generations of sets: ids go into the current one;
when it holds ``size`` ids it becomes the previous generation and the older one is
forgotten at once (its ids counted as ``evicted``). So the window always remembers at least
the last ``size`` ids and at most ``2 * size``, memory never grows, and the hot path is one
or two set lookups and one add: no per-event bookkeeping of arrival order (a deque of ids
cost a third of the dispatcher's time).
"""

from __future__ import annotations

__all__ = ["DedupWindow"]


class DedupWindow:
    """Remember at least the last ``size`` event ids (at most ``2 * size``)."""

    __slots__ = ("_current", "_previous", "duplicates", "evicted", "size")

    def __init__(self, size: int = 100_000) -> None:
        if size < 1:
            raise ValueError(f"dedup window size must be >= 1, got {size}")
        self.size = size
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self.duplicates = 0
        self.evicted = 0

    def first_seen(self, event_id: str) -> bool:
        """True (and remember it) the first time ``event_id`` is seen; False for a copy."""
        current = self._current
        if event_id in current or event_id in self._previous:
            self.duplicates += 1
            return False
        current.add(event_id)
        if len(current) >= self.size:
            self.evicted += len(self._previous)
            self._previous = current
            self._current = set()
        return True

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._current or event_id in self._previous

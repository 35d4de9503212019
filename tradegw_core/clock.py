"""Clocks. Sans-I/O components take ``now`` values; services take a :class:`Clock`."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Where components read time; a test swaps in :class:`FakeClock`."""

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds, for durations and deadlines."""
        ...

    def time_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch, for timestamps sent to venues."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds."""
        return time.monotonic_ns()

    def time_ns(self) -> int:
        """Wall-clock nanoseconds since the epoch."""
        return time.time_ns()


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._mono = 0
        self._wall = start_ns

    def monotonic_ns(self) -> int:
        """Monotonic nanoseconds (starts at 0)."""
        return self._mono

    def time_ns(self) -> int:
        """Wall-clock nanoseconds."""
        return self._wall

    def advance(self, seconds: float = 0.0, *, ns: int = 0) -> None:
        """Move both clocks forward."""
        step = int(seconds * 1_000_000_000) + ns
        if step < 0:
            raise ValueError("a clock does not go backwards")
        self._mono += step
        self._wall += step

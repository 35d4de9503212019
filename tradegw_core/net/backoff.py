"""Capped exponential backoff with full jitter (sans-I/O).

The delay before retry ``attempt`` (0-based) is drawn uniformly from
``[min_s, min(cap_s, base_s * 2**attempt)]`` ("full jitter"), so many clients that lost
the same venue do not reconnect in lock-step. The object only computes delays; the caller
sleeps. Inject a seeded :class:`random.Random` for deterministic tests.

Usage::

    backoff = Backoff(base_s=0.5, cap_s=30.0, rng=random.Random(7))
    while True:
        try:
            await connect()
            backoff.reset()              # success: next failure starts small again
            break
        except VenueConnectionError:
            await anyio.sleep(backoff.failure())
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Capped exponential backoff with full jitter; counts consecutive failures."""

    __slots__ = ("_attempt", "_rng", "base_s", "cap_s", "min_s")

    def __init__(
        self,
        *,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        min_s: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if base_s <= 0 or cap_s < base_s or not 0 <= min_s <= cap_s:
            raise ValueError(
                f"backoff needs 0 < base_s <= cap_s and 0 <= min_s <= cap_s "
                f"(got base_s={base_s}, cap_s={cap_s}, min_s={min_s})"
            )
        self.base_s = base_s
        self.cap_s = cap_s
        self.min_s = min_s
        self._rng = rng if rng is not None else random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Consecutive failures recorded since the last :meth:`reset`."""
        return self._attempt

    def ceiling(self, attempt: int) -> float:
        """The largest delay ``next_delay(attempt)`` can return."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        # Cap the exponent first: 2**attempt overflows a float past ~1023.
        return max(self.min_s, min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64)))

    def next_delay(self, attempt: int) -> float:
        """A jittered delay in seconds for retry number ``attempt`` (0-based)."""
        return self._rng.uniform(self.min_s, self.ceiling(attempt))

    def failure(self) -> float:
        """Record one more failure and return how long to wait before the next try."""
        delay = self.next_delay(self._attempt)
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Record a success: the next failure waits at most ``base_s`` again."""
        self._attempt = 0

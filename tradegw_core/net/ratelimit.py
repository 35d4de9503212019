"""Weight-based rate limiting: a sans-I/O token bucket and a thin async wrapper.

A venue's budget is "``limit`` weight per ``interval_s``" (Binance: 6000 request weight per
minute). :class:`TokenBucket` holds up to ``capacity`` tokens and refills at
``capacity / interval_s`` per second. :meth:`TokenBucket.reserve` takes the tokens at once,
going into debt if needed, and returns how long the caller must wait: callers are served
in call order without a lock, and the debt makes later callers wait behind earlier ones.
:meth:`TokenBucket.block_until` drains the bucket until a time the venue named
(``Retry-After``), so no request goes out while banned.

Usage::

    bucket = TokenBucket(capacity=6000, interval_s=60.0)
    limiter = AsyncRateLimiter(bucket)            # clock and sleep are injectable
    await limiter.acquire(20)                     # waits when the budget is spent
    wait_s = bucket.reserve(5, now_ns=clock.monotonic_ns())   # sans-I/O use
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from tradegw_core.clock import Clock, SystemClock

__all__ = ["AsyncRateLimiter", "TokenBucket"]

_NS = 1_000_000_000


class TokenBucket:
    """``capacity`` tokens refilled evenly over ``interval_s``; sans-I/O (pass ``now_ns``)."""

    __slots__ = ("_last_ns", "_tokens", "capacity", "interval_s", "rate_per_ns")

    def __init__(self, capacity: float, interval_s: float, *, now_ns: int = 0) -> None:
        if capacity <= 0 or interval_s <= 0:
            raise ValueError(
                f"a token bucket needs capacity > 0 and interval_s > 0 "
                f"(got capacity={capacity}, interval_s={interval_s})"
            )
        self.capacity = float(capacity)
        self.interval_s = float(interval_s)
        self.rate_per_ns = self.capacity / (self.interval_s * _NS)
        self._tokens = self.capacity
        self._last_ns = now_ns

    def _refill(self, now_ns: int) -> None:
        if now_ns > self._last_ns:
            self._tokens = min(
                self.capacity, self._tokens + (now_ns - self._last_ns) * self.rate_per_ns
            )
            self._last_ns = now_ns

    def available(self, now_ns: int) -> float:
        """Tokens available at ``now_ns`` (negative while in debt)."""
        self._refill(now_ns)
        return self._tokens

    def delay(self, weight: float, now_ns: int) -> float:
        """Seconds until ``weight`` tokens are available, without taking them."""
        self._check(weight)
        self._refill(now_ns)
        missing = weight - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate_per_ns / _NS

    def try_take(self, weight: float, now_ns: int) -> bool:
        """Take ``weight`` tokens if available now; never goes into debt."""
        if self.delay(weight, now_ns) > 0:
            return False
        self._tokens -= weight
        return True

    def reserve(self, weight: float, now_ns: int) -> float:
        """Take ``weight`` tokens now (debt allowed); return the seconds to wait first."""
        wait = self.delay(weight, now_ns)
        self._tokens -= weight
        return wait

    def block_until(self, until_ns: int, now_ns: int) -> None:
        """Spend everything so that no token is available before ``until_ns``."""
        self._refill(now_ns)
        debt = max(0, until_ns - now_ns) * self.rate_per_ns
        self._tokens = min(self._tokens, -debt)

    def _check(self, weight: float) -> None:
        if weight < 0 or weight > self.capacity:
            raise ValueError(f"weight {weight} outside 0..capacity ({self.capacity})")


class AsyncRateLimiter:
    """Awaitable front of a :class:`TokenBucket`; ``acquire`` sleeps out the wait."""

    def __init__(
        self,
        bucket: TokenBucket,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.bucket = bucket
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep

    async def acquire(self, weight: float = 1) -> None:
        """Wait until ``weight`` may be spent, then spend it."""
        wait = self.bucket.reserve(weight, self._clock.monotonic_ns())
        if wait > 0:
            await self._sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (a venue's ``Retry-After``)."""
        now = self._clock.monotonic_ns()
        self.bucket.block_until(now + int(seconds * _NS), now)

"""Token bucket math with explicit clock values (no event loop)."""

from __future__ import annotations

import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.net.ratelimit import AsyncRateLimiter, TokenBucket

S = 1_000_000_000


def test_full_bucket_then_refill_at_capacity_per_interval() -> None:
    bucket = TokenBucket(capacity=6000, interval_s=60.0)
    assert bucket.try_take(6000, now_ns=0)
    assert not bucket.try_take(1, now_ns=0)
    assert bucket.delay(100, now_ns=0) == pytest.approx(1.0)  # 100 per second
    assert bucket.available(now_ns=30 * S) == pytest.approx(3000)
    assert bucket.available(now_ns=600 * S) == 6000  # never above capacity


def test_reserve_queues_callers_in_order_through_debt() -> None:
    bucket = TokenBucket(capacity=10, interval_s=1.0)
    assert bucket.reserve(10, now_ns=0) == 0.0
    assert bucket.reserve(5, now_ns=0) == pytest.approx(0.5)
    assert bucket.reserve(5, now_ns=0) == pytest.approx(1.0)  # behind the previous one
    assert bucket.available(now_ns=0) == pytest.approx(-10)
    assert bucket.delay(1, now_ns=int(1.1 * S)) == 0.0


def test_block_until_empties_the_bucket_for_the_ban() -> None:
    bucket = TokenBucket(capacity=10, interval_s=1.0)
    bucket.block_until(until_ns=5 * S, now_ns=0)
    assert bucket.delay(1, now_ns=0) == pytest.approx(5.1)
    assert bucket.try_take(1, now_ns=int(5.1 * S) + 1)


@pytest.mark.parametrize("weight", [-1, 11])
def test_impossible_weights_are_refused(weight: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        TokenBucket(capacity=10, interval_s=1.0).reserve(weight, now_ns=0)


def test_bad_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        TokenBucket(capacity=0, interval_s=1.0)


@pytest.mark.anyio
async def test_async_acquire_sleeps_out_the_wait_on_the_given_clock() -> None:
    clock = FakeClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    limiter = AsyncRateLimiter(TokenBucket(2, 1.0), clock=clock, sleep=sleep)
    for _ in range(4):
        await limiter.acquire()
    assert waits == [pytest.approx(0.5), pytest.approx(0.5)]
    limiter.block_for(3.0)
    await limiter.acquire()
    assert waits[-1] == pytest.approx(3.5)

"""Backoff: full jitter within capped exponential bounds, reset on success."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tradegw_core.net.backoff import Backoff


def test_delays_stay_within_capped_exponential_bounds() -> None:
    backoff = Backoff(base_s=0.5, cap_s=8.0, rng=random.Random(1))
    for attempt in range(12):
        ceiling = min(8.0, 0.5 * 2**attempt)
        draws = [backoff.next_delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter: draws spread over the range instead of sitting at the ceiling.
        assert min(draws) < ceiling * 0.1
        assert max(draws) > ceiling * 0.9


def test_failure_grows_the_ceiling_and_reset_shrinks_it() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(2))
    for _ in range(6):
        backoff.failure()
    assert backoff.attempt == 6
    assert backoff.ceiling(backoff.attempt) == 60.0
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.failure() <= 1.0
    assert backoff.attempt == 1


def test_min_floor_and_huge_attempts() -> None:
    backoff = Backoff(base_s=0.1, cap_s=5.0, min_s=0.05, rng=random.Random(3))
    assert all(0.05 <= backoff.next_delay(0) <= 0.1 for _ in range(100))
    assert backoff.ceiling(10_000) == 5.0


def test_seeded_rng_is_reproducible() -> None:
    a = Backoff(rng=random.Random(42))
    b = Backoff(rng=random.Random(42))
    assert [a.failure() for _ in range(5)] == [b.failure() for _ in range(5)]


@pytest.mark.parametrize(
    ("kwargs", "attempt"),
    [({"base_s": 0}, 0), ({"base_s": 2, "cap_s": 1}, 0), ({"min_s": -1}, 0), ({}, -1)],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], attempt: int) -> None:
    with pytest.raises(ValueError, match=r"backoff|attempt"):
        Backoff(**kwargs).ceiling(attempt)

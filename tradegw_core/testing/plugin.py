"""tradegw's pytest plugin (entry point ``pytest11``): fixtures every test suite shares.

- ``anyio_backend``: tests run on asyncio only.
- ``fake_clock``: a :class:`tradegw_core.clock.FakeClock` that moves only when told.
- an autouse loopback-only network guard: a test that connects anywhere but loopback
  fails, even when the code under test swallows the error.
- ``gateway_harness``: ``async with gateway_harness(config_dict) as gw`` runs a Gateway.

Module-level imports stay minimal: pytest imports this module before coverage starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tradegw_core.clock import FakeClock
    from tradegw_core.testing.guard import NetworkGuard


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio."""
    return "asyncio"


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that only moves with ``fake_clock.advance(seconds)``."""
    from tradegw_core.clock import FakeClock

    return FakeClock()


@pytest.fixture(autouse=True)
def tradegw_network_guard() -> Iterator[NetworkGuard]:
    """Refuse non-loopback connections; fail the test if one was attempted."""
    from tradegw_core.testing.guard import NetworkGuard

    guard = NetworkGuard()
    with guard.active():
        yield guard
    if guard.violations:
        pytest.fail("\n".join(guard.violations), pytrace=False)


@pytest.fixture
def gateway_harness() -> Callable[..., Any]:
    """``tradegw_core.testing.harness.gateway_harness``: a running Gateway from a dict."""
    from tradegw_core.testing.harness import gateway_harness

    return gateway_harness

"""Fixtures of the emulator kit tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the gateway's only backend)."""
    return "asyncio"

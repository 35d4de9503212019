"""Shared fixtures of the resilience tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"

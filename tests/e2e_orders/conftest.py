"""Test configuration of the order-path end-to-end tests: anyio's pytest plugin on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"

"""Fixtures for the Coinbase plugin tests: the anyio backend and the real captures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only."""
    return "asyncio"


def _shared_data() -> Path:
    return (Path(__file__).resolve().parents[3] / ".." / "shared" / "data").resolve()


@pytest.fixture
def coinbase_data() -> Path:
    """``shared/data/nautilus/coinbase`` (Advanced Trade message shapes), read in place."""
    path = _shared_data() / "nautilus" / "coinbase"
    if not path.is_dir():
        pytest.skip(f"real Coinbase captures not found at {path} (shared/data is absent)")
    return path


@pytest.fixture
def cryptofeed_data() -> Path:
    """``shared/data/cryptofeed`` (2021 live captures), read in place."""
    path = _shared_data() / "cryptofeed"
    if not (path / "COINBASE.ws.28.0").is_file():
        pytest.skip(f"cryptofeed COINBASE captures not found under {path}")
    return path


@pytest.fixture
def resources() -> Path:
    """Fixtures this project recorded from its own Coinbase emulator."""
    return Path(__file__).resolve().parent / "resources"

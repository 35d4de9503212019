"""Test configuration for this directory: anyio's pytest plugin on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio tests on asyncio (the backend tradegw runs on)."""
    return "asyncio"


class TelemetryRecorder:
    """Collects ``emit(name, **labels)`` calls as ``(name, labels)`` tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def emit(self, name: str, /, **labels: object) -> None:
        """Record one telemetry event."""
        self.events.append((name, labels))

    def named(self, name: str) -> list[dict[str, object]]:
        """Labels of every event called ``name``."""
        return [labels for n, labels in self.events if n == name]


@pytest.fixture
def telemetry() -> TelemetryRecorder:
    """A fresh telemetry recorder."""
    return TelemetryRecorder()

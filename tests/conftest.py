"""Fixtures shared by the core test suites (``anyio_backend`` comes from the pytest plugin)."""

from __future__ import annotations

import pytest

from tradegw_core.testing.recorders import TelemetryRecorder


@pytest.fixture
def telemetry() -> TelemetryRecorder:
    """A fresh telemetry recorder: ``emit(name, **labels)`` calls, ``named(name)``."""
    return TelemetryRecorder()

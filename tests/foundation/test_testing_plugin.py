"""The tradegw pytest plugin: fixtures, the loopback guard, shared-capture helpers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.testing.data import (
    load_shared_json,
    load_shared_jsonl,
    repo_root,
    shared_data_dir,
    shared_file,
)
from tradegw_core.testing.guard import NetworkGuard, NonLoopbackConnectionError, is_loopback_address


def test_fake_clock_fixture_moves_only_when_told(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic_ns()
    fake_clock.advance(1.5)
    assert fake_clock.monotonic_ns() - start == 1_500_000_000
    with pytest.raises(ValueError, match="backwards"):
        fake_clock.advance(-1)


def test_anyio_backend_is_asyncio(anyio_backend: str) -> None:
    assert anyio_backend == "asyncio"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 80), True),
        (("127.5.5.5", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        ((b"localhost", 80), True),
        ("/tmp/some.sock", True),
        (("8.8.8.8", 53), False),
        (("example.com", 443), False),
        (("fe80::1%eth0", 80), False),
        ((), False),
        ((1234, 80), False),
        (None, False),
    ],
)
def test_loopback_classification(address: object, allowed: bool) -> None:
    assert is_loopback_address(address) is allowed


def test_guard_records_refusals_even_when_swallowed_and_restores_socket() -> None:
    original = socket.socket.connect
    guard = NetworkGuard()
    with guard.active():
        assert socket.socket.connect is not original
        # code under test that hides errors must not hide this
        with contextlib.suppress(Exception):
            socket.create_connection(("203.0.113.9", 80), timeout=1)
    assert socket.socket.connect is original
    assert len(guard.violations) == 1
    assert "203.0.113.9" in guard.violations[0]


def test_a_test_that_swallows_a_refused_connection_still_fails(tmp_path: Path) -> None:
    (tmp_path / "test_leak.py").write_text(
        textwrap.dedent(
            """
            import socket

            def test_leaks():
                try:
                    socket.create_connection(("198.51.100.7", 443), timeout=1)
                except Exception:
                    pass
            """
        )
    )

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_leak.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "only loopback is allowed in tests" in result.stdout


def test_guard_exception_is_not_an_oserror() -> None:
    assert not issubclass(NonLoopbackConnectionError, OSError)


def test_shared_data_helpers_read_in_place() -> None:
    assert (repo_root() / "pyproject.toml").is_file()
    base = shared_data_dir()
    if not base.is_dir():
        pytest.skip(f"{base} absent")
    data = load_shared_json("kraken-data-recorder/instrument_snapshot.json")
    assert data  # a real capture, parsed
    assert shared_file("kraken-data-recorder/instrument_snapshot.json").parent.parent == base


def test_missing_shared_capture_skips_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"not found in .*shared"):
        load_shared_json("no/such/capture.json")
    with pytest.raises(pytest.skip.Exception, match="checked out next to this repository"):
        load_shared_jsonl("no/such/capture.jsonl")


def test_jsonl_reader_parses_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    monkeypatch.setattr("tradegw_core.testing.data.shared_data_dir", lambda: tmp_path)
    assert load_shared_jsonl("x.jsonl") == [{"a": 1}, {"a": 2}]


@pytest.mark.anyio
async def test_gateway_harness_runs_a_gateway_with_real_plugins(
    gateway_harness: Callable[..., Any], fake_clock: FakeClock
) -> None:
    config = {
        "plugins": {"enabled": ["consumer-examples"]},
        "gateway": {"consumers": ["printer"]},
        "metrics": {"enabled": False},
    }

    with anyio.fail_after(10):
        async with gateway_harness(config, clock=fake_clock) as gw:
            assert gw.settings.gateway.consumers == ("printer",)
            assert gw.clock is fake_clock
            gw.telemetry.emit("harness.check")
            assert gw.telemetry.count("harness.check") == 1


def test_gateway_harness_reports_config_errors_like_the_cli() -> None:
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dispatcher\.lane_size: input should be greater"):
        load_config_mapping({"dispatcher": {"lane_size": 0}})

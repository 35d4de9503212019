"""``tradegw emulate kraken`` with per-venue keys: a non-base64 secret exits 2."""

from __future__ import annotations

import argparse
import base64

import pytest
from tradegw_kraken.emulator import KrakenEmulator

from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import ApiCredentials, EmulatorConfig
from tradegw_core.sim.cli import add_arguments, main


def _run(*argv: str) -> int:
    registries = Registries()
    registries.emulators.add("kraken", KrakenEmulator, plugin_id="test")
    parser = argparse.ArgumentParser(prog="tradegw emulate")
    add_arguments(parser)
    return main(parser.parse_args(["kraken", "--duration", "0", *argv]), registries)


def test_a_secret_that_is_not_base64_exits_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run("--api-key", "kraken=k", "--api-secret", "kraken=not base64!") == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "tradegw emulate: kraken: the API secret of key 'k' is not base64 "
        "(Kraken private keys are base64 text)\n"
    )
    assert captured.out == ""


def test_a_base64_secret_is_served(capsys: pytest.CaptureFixture[str]) -> None:
    secret = base64.b64encode(b"\x01" * 64).decode()
    assert _run("--api-key", "kraken=k", "--api-secret", f"kraken={secret}") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kraken rest=http://127.0.0.1:")
    assert lines[0].endswith("/v2")
    assert lines[1] == f"kraken account=main api_key=k api_secret={secret}"


def test_the_emulator_refuses_a_bad_secret_at_construction() -> None:
    config = EmulatorConfig(venue="kraken", credentials=(ApiCredentials("k", "%%%"),))
    with pytest.raises(ValueError, match="not base64"):
        KrakenEmulator(config)

"""``tradegw emulate coinbase`` with per-venue keys: a bad CDP key exits 2, a good one serves."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tradegw_coinbase.emulator import CoinbaseEmulator

from tradegw_core.config.loader import load_config
from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import Emulator, EmulatorConfig
from tradegw_core.sim.cli import add_arguments, main


def _run(*argv: str) -> int:
    registries = Registries()
    registries.emulators.add("coinbase", CoinbaseEmulator, plugin_id="test")
    registries.emulators.add("alpha", Emulator, plugin_id="test")
    parser = argparse.ArgumentParser(prog="tradegw emulate")
    add_arguments(parser)
    return main(parser.parse_args(["--duration", "0", *argv]), registries)


def test_a_secret_that_is_not_a_cdp_key_exits_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ("alpha", "coinbase", "--api-key", "coinbase=k", "--api-secret", "coinbase=hunter2")
    assert _run(*argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("tradegw emulate: coinbase: the API secret of key 'k' is not")
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_an_ec_pem_key_given_per_venue_is_served(capsys: pytest.CaptureFixture[str]) -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
        .replace("\n", "\\n")  # as a key arrives on a command line
    )
    argv = ("coinbase", "--api-key", "coinbase=organizations/o/apiKeys/k")
    assert _run(*argv, "--api-secret", f"coinbase={pem}") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("coinbase rest=http://127.0.0.1:")
    assert " ws=ws://127.0.0.1:" in lines[0]
    # the settings' real names; the PEM's newlines written \n on the one line
    assert (
        lines[1]
        == f"coinbase account=main api_key_name=organizations/o/apiKeys/k api_private_key={pem}"
    )


def test_the_emulator_refuses_a_bad_secret_at_construction() -> None:
    from tradegw_core.sim import ApiCredentials

    config = EmulatorConfig(venue="coinbase", credentials=(ApiCredentials("k", "not a key"),))
    with pytest.raises(ValueError, match="PEM EC P-256 or Ed25519"):
        CoinbaseEmulator(config)


def test_printed_settings_load_with_the_pem_key_intact(tmp_path: Path) -> None:
    registries = Registries()
    registries.emulators.add("coinbase", CoinbaseEmulator, plugin_id="coinbase")
    parser = argparse.ArgumentParser(prog="tradegw emulate")
    add_arguments(parser)
    args = parser.parse_args(["coinbase", "--duration", "0", "--print-settings", str(tmp_path)])
    assert main(args, registries) == 0
    secrets = (tmp_path / ".secrets.toml").read_text()
    assert 'api_private_key = """\n-----BEGIN EC PRIVATE KEY-----\n' in secrets  # one line each
    loaded = load_config(tmp_path / "settings.toml", env={}, cwd=tmp_path)
    section = loaded.settings.section("providers.coinbase")
    expected = CoinbaseEmulator(EmulatorConfig(venue="coinbase")).credentials[0]
    assert section.api_key_name == expected.api_key
    assert section.api_private_key.get_secret_value() == expected.api_secret
    assert section.rest_url.startswith("http://127.0.0.1:")
    assert loaded.settings.gateway.providers == ("coinbase",)

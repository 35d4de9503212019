"""The ``tradegw`` command, in-process and once as the installed console script."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tradegw_core import demo as demo_module
from tradegw_core import gateway as gateway_module
from tradegw_core.cli import main
from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import cli as sim_cli_module

from .conftest import FakeSite


def tradegw_script() -> Path:
    """The ``tradegw`` console script of the running venv (``make install`` puts it there)."""
    script = Path(sys.executable).parent / "tradegw"
    assert script.exists(), f"{script} is not installed: run `make install`"
    return script


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def _isolated(cli_isolation: None) -> None:
    """Every test here runs in ``tmp_path`` without TRADEGW_* variables (see conftest)."""


def test_plugins_lists_consumer_examples_with_version_and_hooks(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text('[plugins]\nenabled = ["consumer-examples", "ghost"]\n')

    code, out = run_cli("plugins", "--config", str(cfg))

    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "DISTRIBUTION", "VERSION", "API", "ENABLED", "HOOKS"]
    row = next(r for r in rows if r.startswith("consumer-examples "))
    assert row.split() == [
        "consumer-examples",
        "tradegw-consumer-examples",
        "0.1.0",
        "1",
        "yes",
        "consumers,settings",
    ]
    assert "! ghost: enabled in plugins.enabled but not installed" in out


def test_plugins_json_output() -> None:
    code, out = run_cli("plugins", "--json")

    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["consumer-examples"]["version"] == "0.1.0"
    assert rows["consumer-examples"]["enabled"] is False
    assert rows["consumer-examples"]["hooks"] == [
        "tradegw_register_consumers",
        "tradegw_register_settings",
    ]


def test_installed_console_script_lists_the_plugin(tmp_path: Path) -> None:
    script = tradegw_script()

    result = subprocess.run(
        [str(script), "plugins"], capture_output=True, text=True, cwd=tmp_path, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert "consumer-examples" in result.stdout
    assert "0.1.0" in result.stdout


def test_config_schema_is_json_with_every_plugin_section() -> None:
    code, out = run_cli("config-schema")

    assert code == 0
    schema = json.loads(out)
    consumers = schema["$defs"]["ConsumersSettings"]["properties"]
    assert "printer" in consumers
    printer = schema["$defs"]["PrinterSettings"]["properties"]
    assert {"providers", "symbols", "types"} <= set(printer)
    assert set(schema["properties"]) >= {"plugins", "gateway", "dispatcher", "api", "consumers"}


def test_bad_config_exits_non_zero_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text("[dispatcher]\noverflow = 'explode'\n")

    code, _ = run_cli("run", "--config", str(cfg))

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid configuration")
    assert "dispatcher.overflow: must be one of" in err
    assert "(got 'explode')" in err


def test_missing_config_file_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli("run", "--config", "nowhere.toml")
    assert code == 2
    assert "nowhere.toml does not exist" in capsys.readouterr().err


def test_run_hands_settings_and_frozen_registries_to_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def record(settings: Any, registries: Registries, *, duration: float | None) -> int:
        seen.update(settings=settings, registries=registries, duration=duration)
        return 3

    monkeypatch.setattr(gateway_module, "run_gateway", record)
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        '[plugins]\nenabled = ["consumer-examples"]\n[gateway]\nconsumers = ["printer"]\n'
        "[logging]\nlevel = 'warning'\n"
    )

    code, _ = run_cli("run", "--config", str(cfg), "--duration", "0.5")

    assert code == 3
    assert seen["duration"] == 0.5
    assert seen["settings"].gateway.consumers == ("printer",)
    assert "printer" in seen["registries"].consumers
    assert seen["registries"].consumers.frozen


def test_ctrl_c_during_run_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(*_: Any, **__: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(gateway_module, "run_gateway", interrupted)
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        '[plugins]\nenabled = ["consumer-examples"]\n[gateway]\nconsumers = ["printer"]\n'
    )
    assert run_cli("run", "--config", str(cfg))[0] == 130


def test_run_without_settings_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def never(*_: Any, **__: Any) -> int:
        raise AssertionError("nothing to run: the gateway must not start")

    monkeypatch.setattr(gateway_module, "run_gateway", never)
    assert run_cli("run")[0] == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tradegw run: no settings")
    assert "settings.toml" in err
    assert "--config" in err
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    ("command", "module"), [("emulate", sim_cli_module), ("demo", demo_module)]
)
def test_emulate_and_demo_delegate_to_their_modules(
    monkeypatch: pytest.MonkeyPatch, command: str, module: types.ModuleType
) -> None:
    calls: list[tuple[argparse.Namespace, Registries]] = []

    def fake_main(args: argparse.Namespace, registries: Registries) -> int:
        calls.append((args, registries))
        return 5

    monkeypatch.setattr(module, "main", fake_main)
    argv = ["binance", "kraken", "--seed", "7"] if command == "emulate" else ["--seed", "7"]

    assert run_cli(command, *argv)[0] == 5

    ((args, registries),) = calls
    assert args.seed == 7  # parsed by the module's own add_arguments
    if command == "emulate":
        assert args.venues == ["binance", "kraken"]
    assert registries.emulators.frozen
    assert "binance" in registries.emulators


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("plugins", "config-schema", "run", "emulate", "demo"):
        assert command in out


def test_plugins_table_flags_broken_plugins(fake_site: FakeSite) -> None:
    fake_site.add("cracked", "raise ImportError('missing dependency foo')\n", dist="fake-cracked")

    code, out = run_cli("plugins")

    assert code == 0
    row = next(r for r in out.splitlines() if r.startswith("cracked "))
    assert row.split()[:5] == ["cracked", "fake-cracked", "1.0.0", "?", "no"]
    assert "! cracked (fake-cracked): import failed: ImportError: missing dependency foo" in out


def test_run_starts_the_real_gateway_with_the_printer_for_a_duration(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        '[plugins]\nenabled = ["consumer-examples"]\n[gateway]\nconsumers = ["printer"]\n'
        '[metrics]\nenabled = false\n[logging]\nformat = "json"\n'
    )

    script = tradegw_script()

    result = subprocess.run(
        [str(script), "run", "--config", str(cfg), "--duration", "0.2"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    events = [json.loads(line)["event"] for line in lines]
    assert "printer.nothing_to_subscribe" in events
    assert "printer.stopped" in events


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        # a core section
        (
            "[gateway]\nconsumers = ['printer']\n[dispatcher]\nlane_size = -3\n",
            "dispatcher.lane_size",
        ),
        # a section contributed by the consumer-examples plugin
        (
            "[gateway]\nconsumers = ['printer']\n[consumers.printer]\nmax_levels = 'many'\n",
            "consumers.printer.max_levels",
        ),
    ],
    ids=["core-section", "plugin-section"],
)
def test_installed_run_refuses_a_bad_value_naming_the_key(
    tmp_path: Path, section: str, expected: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[plugins]\nenabled = ["consumer-examples"]\n' + section)

    result = subprocess.run(
        [str(tradegw_script()), "run", "--config", str(cfg), "--duration", "0.1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("TRADEGW_")},
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: invalid configuration"), result.stderr
    assert f"{expected}:" in result.stderr
    assert "Traceback" not in result.stderr

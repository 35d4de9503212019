"""The ``tradegw`` command, in-process and once as the installed console script."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tradegw_core.cli import main
from tradegw_core.plugin.registries import Registries

from .conftest import FakeSite


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No settings.toml or TRADEGW_* variable leaks in; ``run``'s logging set-up leaks out."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("TRADEGW_")]:
        monkeypatch.delenv(var)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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
    script = Path(sys.executable).parent / "tradegw"
    if not script.exists():
        pytest.skip(f"{script} not installed (run `make install`)")

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


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("is_async", [False, True])
def test_run_hands_settings_and_frozen_registries_to_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, is_async: bool
) -> None:
    seen: dict[str, Any] = {}

    def record(settings: Any, registries: Registries, *, duration: float | None) -> int:
        seen.update(settings=settings, registries=registries, duration=duration)
        return 3

    async def arecord(settings: Any, registries: Registries, *, duration: float | None) -> int:
        return record(settings, registries, duration=duration)

    _fake_module(monkeypatch, "tradegw_core.gateway", run_gateway=arecord if is_async else record)
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


def test_run_reports_a_missing_gateway_and_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tradegw_core.gateway", None)
    assert run_cli("run")[0] == 1
    assert "gateway is not available" in capsys.readouterr().err

    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    _fake_module(monkeypatch, "tradegw_core.gateway", run_gateway=interrupted)
    assert run_cli("run")[0] == 130


def test_emulate_and_demo_delegate_to_their_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[argparse.Namespace, Registries]] = []

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("venues", nargs="+")
        parser.add_argument("--seed", type=int, default=0)

    def fake_main(args: argparse.Namespace, registries: Registries) -> int:
        calls.append((args, registries))
        return 0

    _fake_module(monkeypatch, "tradegw_core.sim.cli", add_arguments=add_arguments, main=fake_main)

    assert run_cli("emulate", "binance", "kraken", "--seed", "7")[0] == 0

    ((args, registries),) = calls
    assert args.venues == ["binance", "kraken"]
    assert args.seed == 7
    assert registries.emulators.frozen


def test_unavailable_delegated_command_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tradegw_core.demo", None)

    assert run_cli("demo")[0] == 1
    assert "'tradegw demo' is not available" in capsys.readouterr().err


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
    pytest.importorskip("tradegw_core.gateway", reason="the gateway is not in this build yet")
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        '[plugins]\nenabled = ["consumer-examples"]\n[gateway]\nconsumers = ["printer"]\n'
        '[metrics]\nenabled = false\n[logging]\nformat = "json"\n'
    )

    script = Path(sys.executable).parent / "tradegw"
    if not script.exists():
        pytest.skip(f"{script} not installed (run `make install`)")

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

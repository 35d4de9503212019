"""``tradegw emulate``: argument parsing, printed lines, serving until stopped."""

from __future__ import annotations

import argparse
import io
import re
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import BaseModel, SecretStr
from websockets.asyncio.client import connect

from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import ApiCredentials, Emulator, EmulatorConfig
from tradegw_core.sim.cli import add_arguments, main, run_emulators
from tradegw_core.sim.settings_out import toml_value

LINE = re.compile(
    r"^(\w+) rest=http://127\.0\.0\.1:(\d+) ws=ws://127\.0\.0\.1:(\d+)(/\S*)((?: \w+=\S+)*)$"
)


class PathEmulator(Emulator):
    """The base with a venue-style WebSocket path and a multi-line secret."""

    ws_path = "/ws/v1"

    def default_credentials(self) -> tuple[ApiCredentials, ...]:
        return (ApiCredentials("k1", "-----BEGIN-----\nabc\n-----END-----", "acct"),)

    def endpoints(self) -> dict[str, str]:
        return {**super().endpoints(), "user": f"{self.ws_url}/user"}


class StrictEmulator(Emulator):
    """Refuses a secret that is not hex, as a venue checks its secret format."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        for cred in self.credentials:
            int(cred.api_secret, 16)  # ValueError: invalid literal for int() ...


def _registries() -> Registries:
    registries = Registries()
    registries.emulators.add("alpha", Emulator, plugin_id="test")
    registries.emulators.add("beta", PathEmulator, plugin_id="test")
    registries.emulators.add("strict", StrictEmulator, plugin_id="test")
    return registries


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tradegw emulate")
    add_arguments(parser)
    return parser.parse_args(argv)


class _Out(io.StringIO):
    """Captures output and signals once ``lines`` lines were written."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines = lines
        self.ready = anyio.Event()

    def write(self, text: str) -> int:
        n = super().write(text)
        if self.getvalue().count("\n") >= self.lines:
            self.ready.set()
        return n


@pytest.mark.anyio
async def test_serves_each_venue_and_prints_lines_and_keys() -> None:
    out, stop = _Out(lines=4), anyio.Event()
    args = _args("alpha", "beta", "--seed", "7", "--rate", "50", "--symbols", "BTC-USDT,SOL-USDT")
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            assert await run_emulators(args, _registries(), out=out, stop=stop) == 0

        tg.start_soon(run)
        with anyio.fail_after(2):
            await out.ready.wait()
        lines = out.getvalue().splitlines()
        venues = [LINE.match(line) for line in lines[:2]]
        assert [m.group(1) if m else None for m in venues] == ["alpha", "beta"]
        assert venues[0] is not None
        assert venues[0].group(4) == "/"
        assert venues[1] is not None
        assert venues[1].group(4) == "/ws/v1"
        assert venues[0].group(5) == ""
        assert venues[1].group(5) == f" user=ws://127.0.0.1:{venues[1].group(3)}/ws/v1/user"
        assert lines[2].startswith("alpha account=main api_key=alpha-test-key api_secret=")
        assert lines[3] == (
            "beta account=acct api_key=k1 api_secret=-----BEGIN-----\\nabc\\n-----END-----"
        )
        with anyio.fail_after(2):
            async with httpx.AsyncClient() as http:
                response = await http.get(f"http://127.0.0.1:{venues[0].group(2)}/missing")
            async with connect(f"ws://127.0.0.1:{venues[1].group(3)}/ws/v1") as ws:
                await ws.send("hi")
                pong = await ws.ping()
                await pong
        assert response.status_code == 404
        stop.set()


def test_main_runs_for_a_duration_with_keys_per_venue(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(
        "alpha",
        "strict",
        "--duration",
        "0",
        "--api-key",
        "alpha=mykey",
        "--api-secret",
        "alpha=my=secret",
        "--api-key=strict=k2",
        "--api-secret=strict=00ff",
    )
    assert main(args, _registries()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert LINE.match(lines[0])
    assert LINE.match(lines[1])
    assert lines[2] == "alpha account=main api_key=mykey api_secret=my=secret"
    assert lines[3] == "strict account=main api_key=k2 api_secret=00ff"


def test_a_venue_left_out_of_the_keys_keeps_its_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _args(
        "alpha", "beta", "--duration", "0", "--api-key", "beta=b", "--api-secret", "beta=s"
    )
    assert main(args, _registries()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("alpha account=main api_key=alpha-test-key api_secret=")
    assert lines[3] == "beta account=main api_key=b api_secret=s"


def test_a_secret_the_venue_refuses_exits_2_naming_the_venue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _args("alpha", "strict", "--api-key", "strict=k", "--api-secret", "strict=not-hex")
    assert main(args, _registries()) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing started, no URL printed
    assert captured.err.startswith("tradegw emulate: strict: invalid literal for int()")
    assert "Traceback" not in captured.err


def test_a_port_that_cannot_be_bound_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("alpha", "--host", "203.0.113.7")  # TEST-NET-3: not an address of this host
    assert main(args, _registries()) == 2
    err = capsys.readouterr().err
    assert err.startswith("tradegw emulate: alpha: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("gamma",), "unknown emulator 'gamma' (registered: alpha, beta, strict)"),
        (("alpha", "--symbols", "btcusdt"), "not a canonical symbol"),
        (("alpha", "--symbols", ","), "--symbols is empty"),
        (("alpha", "--api-key", "k", "--api-secret", "alpha=s"), "--api-key wants VENUE=VALUE"),
        (("alpha", "--api-key", "beta=k", "--api-secret", "beta=s"), "names 'beta', which is"),
        (("alpha", "--api-key", "alpha=k"), "alpha: --api-secret alpha=... is missing"),
        (("alpha", "--api-secret", "alpha=s"), "alpha: --api-key alpha=... is missing"),
        (
            ("alpha", "--api-key", "alpha=k", "--api-key", "alpha=j", "--api-secret", "alpha=s"),
            "--api-key given twice for 'alpha'",
        ),
    ],
)
def test_bad_arguments_exit_2(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(*argv), _registries()) == 2
    assert message in capsys.readouterr().err


def test_emulator_config_defaults() -> None:
    config = EmulatorConfig(venue="x")
    assert (config.host, config.rest_port, config.ws_port) == ("127.0.0.1", 0, 0)
    assert config.symbols == ("BTC-USDT", "ETH-USDT")


_CHILD = """
import argparse, sys
from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import Emulator
from tradegw_core.sim.cli import add_arguments, main
registries = Registries()
registries.emulators.add("alpha", Emulator, plugin_id="test")
parser = argparse.ArgumentParser()
add_arguments(parser)
sys.exit(main(parser.parse_args(["alpha"]), registries))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_main_exits_0_on_ctrl_c_or_sigterm(sig: signal.Signals) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert LINE.match(child.stdout.readline().strip())
        child.send_signal(sig)
        _, err = child.communicate(timeout=10)
    assert child.returncode == 0, err


class _Settings(BaseModel):
    rest_url: str = ""
    ws_url: str = ""
    key_name: str = ""
    private_key: SecretStr | None = None
    symbols: tuple[str, ...] = ()
    depth: int = 10


class SettingsEmulator(PathEmulator):
    """Says how its provider connects, with a key name kept with the secrets."""

    secret_settings = ("key_name",)

    def client_settings(self, **overrides: Any) -> Any:
        cred = self.credentials[0]
        return _Settings(
            rest_url=self.rest_url,
            ws_url=self.ws_url,
            key_name=cred.api_key,
            private_key=cred.api_secret,
            symbols=tuple(self.symbols),
        )


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two free adjacent ports")


def test_fixed_ports_state_dir_and_printed_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registries = _registries()
    registries.emulators.add("gamma", SettingsEmulator, plugin_id="gamma-plugin")
    port = _free_port_pair()
    args = _args(
        "gamma",
        "--duration",
        "0",
        "--port",
        f"gamma={port}",
        "--state-dir",
        str(tmp_path / "state"),
        "--print-settings",
        str(tmp_path / "cfg"),
    )
    assert main(args, registries) == 0
    lines = capsys.readouterr().out.splitlines()
    match = LINE.match(lines[0])
    assert match is not None
    assert (int(match.group(2)), int(match.group(3))) == (port, port + 1)
    assert lines[1] == (
        "gamma account=acct key_name=k1 private_key=-----BEGIN-----\\nabc\\n-----END-----"
    )
    assert lines[2] == f"settings {tmp_path / 'cfg' / 'settings.toml'} secrets " + str(
        tmp_path / "cfg" / ".secrets.toml"
    )
    assert (tmp_path / "state" / "gamma.json").is_file()  # written on stop
    settings = tomllib.loads((tmp_path / "cfg" / "settings.toml").read_text())
    secrets = tomllib.loads((tmp_path / "cfg" / ".secrets.toml").read_text())
    assert settings["plugins"] == {"enabled": ["gamma-plugin"]}
    assert settings["gateway"] == {"providers": ["gamma"]}
    assert settings["providers"]["gamma"] == {
        "rest_url": f"http://127.0.0.1:{port}",
        "ws_url": f"ws://127.0.0.1:{port + 1}/ws/v1",
        "symbols": ["BTC-USDT", "ETH-USDT"],
    }
    assert secrets["providers"]["gamma"] == {
        "key_name": "k1",
        "private_key": "-----BEGIN-----\nabc\n-----END-----",
    }
    assert (
        '"""\n-----BEGIN-----\nabc\n-----END-----"""'
        in (tmp_path / "cfg" / ".secrets.toml").read_text()
    )  # the PEM printed as lines, not escaped


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (3, "3"),
        (1.5, "1.5"),
        ('a"b', '"a\\"b"'),
        (["x", 2], '["x", 2]'),
        ('x\n"""', '"x\\n\\"\\"\\""'),
    ],
)
def test_toml_values_read_back(value: Any, text: str) -> None:
    assert toml_value(value) == text
    assert tomllib.loads(f"v = {text}")["v"] == value


@pytest.mark.parametrize("port", ["abc", "0", "65535"])
def test_bad_ports_exit_2(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args("alpha", "--port", f"alpha={port}"), _registries()) == 2
    assert "PORT must be 1..65534" in capsys.readouterr().err


def test_a_state_file_of_another_venue_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "alpha.json").write_text('{"version": 1, "venue": "beta"}')
    assert main(_args("alpha", "--state-dir", str(tmp_path)), _registries()) == 2
    assert "tradegw emulate: alpha: " in capsys.readouterr().err

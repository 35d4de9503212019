"""``tradegw emulate``: argument parsing, printed lines, serving until stopped."""

from __future__ import annotations

import argparse
import io
import re
import signal
import subprocess
import sys

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from tradegw_core.plugin.registries import Registries
from tradegw_core.sim import ApiCredentials, Emulator, EmulatorConfig
from tradegw_core.sim.cli import add_arguments, main, run_emulators

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

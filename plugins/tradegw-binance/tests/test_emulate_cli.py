"""``tradegw emulate binance`` prints the stream and WebSocket API URLs the provider uses."""

from __future__ import annotations

import argparse
import re

import pytest
from tradegw_binance.emulator import BinanceEmulator

from tradegw_core.plugin.registries import Registries
from tradegw_core.sim.cli import add_arguments, main

LINE = re.compile(
    r"^binance rest=http://127\.0\.0\.1:(\d+) ws=ws://127\.0\.0\.1:(\d+)/stream "
    r"ws_api=ws://127\.0\.0\.1:(\d+)/ws-api/v3$"
)


def test_prints_the_combined_stream_and_ws_api_urls(capsys: pytest.CaptureFixture[str]) -> None:
    registries = Registries()
    registries.emulators.add("binance", BinanceEmulator, plugin_id="test")
    parser = argparse.ArgumentParser(prog="tradegw emulate")
    add_arguments(parser)
    assert main(parser.parse_args(["binance", "--duration", "0"]), registries) == 0
    match = LINE.match(capsys.readouterr().out.splitlines()[0])
    assert match is not None
    assert match.group(2) == match.group(3)  # one WebSocket server serves both paths

"""Fixtures for the Binance plugin tests: locating the shared real captures read in place.

The captures live outside the repository (``<repo>/../shared/data``); tests that need them
skip with a clear reason when that folder is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
RESOURCES = Path(__file__).resolve().parent / "resources"


@dataclass(frozen=True)
class WsFrame:
    """One received frame of a cryptofeed capture: receive time (s) and text."""

    ts: float
    text: str


@dataclass(frozen=True)
class HttpAnswer:
    """One REST answer of a cryptofeed capture."""

    url: str
    ts: float
    body: str


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder, or skip."""
    if not _SHARED.is_dir():
        pytest.skip(f"shared real-data folder not found at {_SHARED} (captures are read in place)")
    return _SHARED


@pytest.fixture
def capture_file(shared_data: Path) -> Callable[[str], Path]:
    """Path of one capture under the shared folder, or skip when that file is absent."""

    def get(rel: str) -> Path:
        path = shared_data / rel
        if not path.is_file():
            pytest.skip(f"capture {rel} not found under {shared_data}")
        return path

    return get


def _split_ts(line: str) -> tuple[float, str]:
    ts, _, rest = line.partition(": ")
    return float(ts), rest


@pytest.fixture
def ws_capture(capture_file: Callable[[str], Path]) -> Callable[[str], list[WsFrame]]:
    """Received frames of a cryptofeed ``*.ws.*`` capture (connection lines skipped)."""

    def load(rel: str) -> list[WsFrame]:
        frames = []
        for line in capture_file(rel).read_text().splitlines():
            if not line or " <-> " in line or " <- " in line:
                continue
            ts, text = _split_ts(line)
            frames.append(WsFrame(ts, text))
        return frames

    return load


@pytest.fixture
def http_capture(capture_file: Callable[[str], Path]) -> Callable[[str], list[HttpAnswer]]:
    """REST answers of a cryptofeed ``*.http.*`` / ``.0`` capture."""

    def load(rel: str) -> list[HttpAnswer]:
        answers = []
        for line in capture_file(rel).read_text().splitlines():
            if " -> " not in line:
                continue
            url, _, rest = line.partition(" -> ")
            ts, body = _split_ts(rest)
            answers.append(HttpAnswer(url, ts, body))
        return answers

    return load


@pytest.fixture
def nautilus_json(capture_file: Callable[[str], Path]) -> Callable[[str], Any]:
    """A JSON fixture under ``nautilus/binance/`` (hand-built in the venue's shape)."""

    def load(rel: str) -> Any:
        return json.loads(capture_file(f"nautilus/binance/{rel}").read_text())

    return load


@pytest.fixture(scope="session")
def parser() -> Any:
    """A parser over the real binance.com + binance.us exchangeInfo symbols (read once)."""
    from tradegw_binance.parsing import BinanceParser
    from tradegw_binance.symbols import BinanceSymbolMap

    insts: list[Any] = []
    for name in ("cryptofeed/BINANCE.0", "cryptofeed/BINANCE_US.0"):
        path = _SHARED / name
        if not path.is_file():
            pytest.skip(f"capture {name} not found under {_SHARED}")
        body = path.read_text().splitlines()[0].partition(" -> ")[2].partition(": ")[2]
        insts.extend(BinanceSymbolMap.from_exchange_info(body, "binance").instruments().values())
    return BinanceParser("binance", BinanceSymbolMap(insts))


@pytest.fixture(scope="session")
def user_stream() -> Callable[..., Any]:
    """``user_stream(parser, emit, reject=None)``: a UserStream fed by hand (no socket)."""
    from tradegw_binance.signing import HmacSigner
    from tradegw_binance.user_stream import OrderTracker, UserStream

    async def no_recovery() -> list[Any]:
        return []

    def make(parser: Any, emit: Callable[[Any], None], reject: Any = None) -> UserStream:
        return UserStream(
            parser,
            OrderTracker(),
            api_key="k",
            signer=HmacSigner("s"),
            timestamp_ms=lambda: 1,
            emit=emit,
            recover=no_recovery,
            now_ns=lambda: 0,
            reject=reject,
        )

    return make

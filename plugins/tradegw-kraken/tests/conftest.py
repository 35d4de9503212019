"""Shared fixtures of the Kraken plugin tests: real captures read in place, vectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tradegw_kraken.schemas import KrakenBookMsg, KrakenInstrumentMsg, KrakenLevelMsg
from tradegw_kraken.symbols import KrakenPair, KrakenSymbolMap, pairs_from_instrument

from tradegw_core.schema.symbols import Instrument, Symbol

RESOURCES = Path(__file__).resolve().parent / "resources"


@pytest.fixture
def anyio_backend() -> str:
    """anyio's pytest plugin runs async tests on asyncio."""
    return "asyncio"


def _shared_data_dir() -> Path:
    try:
        from tradegw_core.testing.data import shared_data_dir  # type: ignore[import-not-found]

        return Path(shared_data_dir())
    except ImportError:
        return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real captures); the test skips when it is absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real capture folder {path} is absent (it lives beside the repository)")
    return path


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real capture {path} is absent")
    return path


@pytest.fixture(scope="session")
def instrument_pairs(shared_data: Path) -> list[KrakenPair]:
    """Pairs of the real WebSocket v2 ``instrument`` snapshot (kraken-data-recorder)."""
    path = _need(shared_data / "kraken-data-recorder" / "instrument_snapshot.json")
    frame = json.loads(path.read_bytes())
    data = msgspec.json.decode(json.dumps(frame["data"]), type=KrakenInstrumentMsg)
    return pairs_from_instrument(data)


@pytest.fixture(scope="session")
def ws_symbols(instrument_pairs: list[KrakenPair]) -> KrakenSymbolMap:
    """Symbol map built from the real instrument snapshot."""
    return KrakenSymbolMap(instrument_pairs)


def make_instrument(symbol: str, price_precision: int, qty_precision: int = 8) -> Instrument:
    """A test instrument with the given precisions (venue name ``BASE/QUOTE``)."""
    base, quote = symbol.split("-")
    return Instrument(
        provider="kraken",
        symbol=Symbol(symbol),
        venue_symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        price_step=Decimal(1).scaleb(-price_precision),
        qty_step=Decimal(1).scaleb(-qty_precision),
        price_precision=price_precision,
        qty_precision=qty_precision,
    )


def book_msg(
    symbol: str,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    checksum: int | None,
    timestamp: str | None = None,
) -> KrakenBookMsg:
    """A v2 book entry from (price, qty) text pairs."""
    return KrakenBookMsg(
        symbol=symbol,
        bids=[KrakenLevelMsg(Decimal(p), Decimal(q)) for p, q in bids],
        asks=[KrakenLevelMsg(Decimal(p), Decimal(q)) for p, q in asks],
        checksum=checksum,
        timestamp=timestamp,
    )


@pytest.fixture
def make_book_msg() -> Callable[..., KrakenBookMsg]:
    """:func:`book_msg` as a fixture (test modules cannot import conftest)."""
    return book_msg


@pytest.fixture
def make_inst() -> Callable[..., Instrument]:
    """:func:`make_instrument` as a fixture."""
    return make_instrument


def iter_v1_frames(path: Path) -> Iterator[list[object]]:
    """Received WebSocket v1 array frames of a cryptofeed capture, in order."""
    for line in path.read_text().splitlines():
        if line.startswith("wss://") or ": " not in line:
            continue
        payload = json.loads(line.split(": ", 1)[1])
        if isinstance(payload, list):
            yield payload


@pytest.fixture
def v1_frames() -> Callable[[Path], Iterator[list[object]]]:
    """:func:`iter_v1_frames` as a fixture."""
    return iter_v1_frames

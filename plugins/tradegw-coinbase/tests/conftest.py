"""Fixtures for the Coinbase plugin tests: the anyio backend and the real captures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import EventRecorder, TelemetryRecorder


@pytest.fixture
def anyio_backend() -> str:
    """Run anyio tests on asyncio only."""
    return "asyncio"


def _shared_data() -> Path:
    return (Path(__file__).resolve().parents[3] / ".." / "shared" / "data").resolve()


@pytest.fixture
def coinbase_data() -> Path:
    """``shared/data/nautilus/coinbase`` (Advanced Trade message shapes), read in place."""
    path = _shared_data() / "nautilus" / "coinbase"
    if not path.is_dir():
        pytest.skip(f"real Coinbase captures not found at {path} (shared/data is absent)")
    return path


@pytest.fixture
def cryptofeed_data() -> Path:
    """``shared/data/cryptofeed`` (2021 live captures), read in place."""
    path = _shared_data() / "cryptofeed"
    if not (path / "COINBASE.ws.28.0").is_file():
        pytest.skip(f"cryptofeed COINBASE captures not found under {path}")
    return path


@pytest.fixture
def resources() -> Path:
    """Fixtures this project recorded from its own Coinbase emulator."""
    return Path(__file__).resolve().parent / "resources"


class Sink(EventRecorder):
    """Collects what a provider emits; ``wait_for`` wakes on every new item (no polling)."""

    async def wait_for(self, predicate: Callable[[list[Any]], bool], seconds: float = 5.0) -> None:
        """Wait until ``predicate(items)`` holds (at most ``seconds``)."""
        await self.until(lambda: predicate(self.items), seconds)


@pytest.fixture
def telemetry() -> TelemetryRecorder:
    """A fresh telemetry recorder."""
    return TelemetryRecorder()


@pytest.fixture
def sink() -> Sink:
    """A fresh event sink."""
    return Sink()


@dataclass
class Venue:
    """A running Coinbase emulator with a simulator the test steps by hand."""

    emu: Any
    sim: Any
    settings: Any

    def step_until(self, predicate: Callable[[], bool], limit: int = 2000) -> int:
        """Step the market until ``predicate()``; return the steps taken."""
        for n in range(1, limit + 1):
            self.sim.step()
            if predicate():
                return n
        raise AssertionError(f"condition not reached in {limit} simulator steps")


@pytest.fixture
def coinbase_venue() -> Callable[..., Any]:
    """``async with coinbase_venue(**settings) as venue``: emulator + matching settings."""
    from contextlib import asynccontextmanager

    from tradegw_coinbase.emulator import CoinbaseEmulator

    from tradegw_core.sim.emulator import EmulatorConfig
    from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

    @asynccontextmanager
    async def start(
        seed: int = 7,
        options: dict[str, Any] | None = None,
        credentials: tuple[Any, ...] = (),
        **overrides: Any,
    ) -> Any:
        symbols = ("BTC-USD", "ETH-USD")
        sim = MarketSimulator([default_symbol_spec(s) for s in symbols], seed=seed, rate=50)
        config = EmulatorConfig(
            venue="coinbase",
            symbols=symbols,
            seed=seed,
            simulator=sim,
            options=options or {},
            credentials=credentials,
        )
        async with CoinbaseEmulator(config) as emu:
            yield Venue(emu, sim, emu.client_settings(**{"request_timeout_s": 2.0, **overrides}))

    return start


@pytest.fixture
def provider_ctx(
    telemetry: TelemetryRecorder, sink: Sink
) -> Callable[..., RecordingProviderContext]:
    """Build a provider context around settings, with the core's BookStages as factory."""
    from tradegw_core.book.stage import BookStageSettings

    def build(settings: Any, **stage_settings: Any) -> RecordingProviderContext:
        values: dict[str, Any] = {"refresh_min_s": None, "stale_after_s": None}
        values.update(stage_settings)
        return RecordingProviderContext(
            "coinbase",
            settings,
            events=sink,
            telemetry=telemetry,
            book_settings=BookStageSettings(**values),
        )

    return build


def _instrument(pid: str, price_step: str, qty_step: str) -> Instrument:
    base, quote = pid.split("-")
    return Instrument(
        provider="coinbase", symbol=Symbol(pid), venue_symbol=pid, base=base, quote=quote,
        price_step=Decimal(price_step), qty_step=Decimal(qty_step),
        price_precision=-Decimal(price_step).as_tuple().exponent,  # type: ignore[operator]
        qty_precision=-Decimal(qty_step).as_tuple().exponent,  # type: ignore[operator]
    )  # fmt: skip


@pytest.fixture
def instruments() -> dict[Symbol, Instrument]:
    """The products of the fixtures with the live increments (price 0.01, size 1e-8)."""
    return {
        Symbol(pid): _instrument(pid, "0.01", "0.00000001")
        for pid in ("BTC-USD", "ETH-USD", "BTC-USDC")
    }

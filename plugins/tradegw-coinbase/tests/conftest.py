"""Fixtures for the Coinbase plugin tests: the anyio backend and the real captures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest


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


class Telemetry:
    """Records telemetry events (the ops bus stand-in for the provider context)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, /, **labels: Any) -> None:
        """Record one event."""
        self.events.append((name, labels))

    def named(self, name: str) -> list[dict[str, Any]]:
        """Labels of every event called ``name``."""
        return [labels for n, labels in self.events if n == name]


class Sink:
    """Collects what a provider emits; ``wait_for`` wakes on every new item (no polling)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed: anyio.Event | None = None

    def __call__(self, item: Any) -> None:
        self.items.append(item)
        if self._changed is not None:
            self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Any]], bool], seconds: float = 5.0) -> None:
        """Wait until ``predicate(items)`` holds (at most ``seconds``)."""
        with anyio.fail_after(seconds):
            while not predicate(self.items):
                self._changed = anyio.Event()
                await self._changed.wait()

    def of(self, kind: type) -> list[Any]:
        """Items of one type."""
        return [i for i in self.items if isinstance(i, kind)]


@dataclass
class ProviderCtx:
    """A ``ProviderContext`` stand-in built on the core's real BookStages."""

    provider_id: str
    settings: Any
    clock: Any
    telemetry: Telemetry
    sink: Sink
    book_stage: Any = None
    metrics: Any = None

    def emit(self, event: Any) -> None:
        """Hand an event to the test's sink."""
        self.sink(event)


@pytest.fixture
def telemetry() -> Telemetry:
    """A fresh telemetry recorder."""
    return Telemetry()


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

    from tradegw_coinbase.config import CoinbaseSettings
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
            cred = emu.credentials[0]
            values: dict[str, Any] = {
                "ws_market_url": emu.ws_url,
                "ws_user_url": emu.ws_url,
                "rest_url": emu.rest_url,
                "api_key_name": cred.api_key,
                "api_private_key": cred.api_secret,
                "request_timeout_s": 2.0,
            }
            values.update(overrides)
            yield Venue(emu, sim, CoinbaseSettings(**values))

    return start


@pytest.fixture
def provider_ctx(telemetry: Telemetry, sink: Sink) -> Callable[..., ProviderCtx]:
    """Build a provider context around settings, with the core's BookStages as factory."""
    from tradegw_core.book.stage import BookStages, BookStageSettings
    from tradegw_core.clock import SystemClock

    def build(settings: Any, **stage_settings: Any) -> ProviderCtx:
        clock = SystemClock()
        values: dict[str, Any] = {"refresh_min_s": None, "stale_after_s": None}
        values.update(stage_settings)
        stages = BookStages(
            "coinbase",
            sink=sink,
            telemetry=telemetry,
            clock=clock,
            settings=BookStageSettings(**values),
        )
        return ProviderCtx("coinbase", settings, clock, telemetry, sink, stages)

    return build

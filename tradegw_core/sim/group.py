"""Start several venue emulators on one shared market (the CLI and the demo use this)."""

from __future__ import annotations

from collections.abc import Sequence

from anyio.abc import TaskGroup

from tradegw_core.clock import Clock
from tradegw_core.sim.emulator import (
    DEFAULT_SYMBOLS,
    ApiCredentials,
    Emulator,
    EmulatorConfig,
    EmulatorFactory,
)
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

__all__ = ["start_emulators"]


async def start_emulators(
    tg: TaskGroup,
    factories: Sequence[tuple[str, EmulatorFactory]],
    *,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    seed: int = 0,
    rate: float = 5.0,
    host: str = "127.0.0.1",
    credentials: tuple[ApiCredentials, ...] = (),
    clock: Clock | None = None,
    drive: bool = True,
) -> tuple[MarketSimulator, list[Emulator]]:
    """Start one emulator per (venue, factory) in ``tg``, all on one new simulator.

    Returns once every emulator listens. With ``drive`` the simulator steps at ``rate`` in
    ``tg`` too (pass False to step it yourself, e.g. ``sim.events(n)`` in a test). Cancel
    ``tg`` to stop everything.
    """
    sim = MarketSimulator(
        [default_symbol_spec(s) for s in symbols], seed=seed, rate=rate, clock=clock
    )
    emulators: list[Emulator] = []
    for venue, factory in factories:
        config = EmulatorConfig(
            venue=venue,
            symbols=tuple(symbols),
            seed=seed,
            rate=rate,
            host=host,
            credentials=credentials,
            simulator=sim,
            clock=clock,
        )
        emulators.append(await tg.start(factory(config).serve))
    if drive:
        tg.start_soon(sim.run)
    return sim, emulators

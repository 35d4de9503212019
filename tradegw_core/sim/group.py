"""Start several venue emulators on one shared market (the CLI and the demo use this)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from anyio.abc import TaskGroup

from tradegw_core.clock import Clock
from tradegw_core.errors import ConfigError
from tradegw_core.sim.emulator import (
    DEFAULT_SYMBOLS,
    ApiCredentials,
    Emulator,
    EmulatorConfig,
    EmulatorFactory,
)
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

__all__ = ["EmulatorStartError", "start_emulators"]


class EmulatorStartError(ConfigError):
    """A venue emulator could not be built or could not start listening.

    ``venue`` names it; ``reason`` is the underlying message (a bad API secret, a port in
    use...). ``str()`` is ``"<venue>: <reason>"``.
    """

    def __init__(self, venue: str, reason: str) -> None:
        super().__init__(f"{venue}: {reason}")
        self.venue = venue
        self.reason = reason


async def start_emulators(
    tg: TaskGroup,
    factories: Sequence[tuple[str, EmulatorFactory]],
    *,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    seed: int = 0,
    rate: float = 5.0,
    host: str = "127.0.0.1",
    credentials: tuple[ApiCredentials, ...] | Mapping[str, tuple[ApiCredentials, ...]] = (),
    clock: Clock | None = None,
    drive: bool = True,
    ports: Mapping[str, int] | None = None,
    state_dir: Path | None = None,
) -> tuple[MarketSimulator, list[Emulator]]:
    """Start one emulator per (venue, factory) in ``tg``, all on one new simulator.

    ``credentials`` is one tuple for every venue, or a mapping venue -> tuple (a venue
    missing from it gets its default test keys). Every emulator is built before any
    starts, so a bad secret fails before a port is opened. ``ports`` gives a venue fixed
    ports: REST on the port, WebSocket on the next one (others get free ports);
    ``state_dir`` keeps each venue's orders and balances there (see
    :mod:`tradegw_core.sim.state`). Raises
    :class:`EmulatorStartError` (naming the venue) when a factory rejects its config
    (``ValueError``, ``ConfigError``), a server cannot listen (``OSError``) or a state
    file cannot be read (``ValueError``).

    Returns once every emulator listens. With ``drive`` the simulator steps at ``rate`` in
    ``tg`` too (pass False to step it yourself, e.g. ``sim.events(n)`` in a test). Cancel
    ``tg`` to stop everything.
    """
    sim = MarketSimulator(
        [default_symbol_spec(s) for s in symbols], seed=seed, rate=rate, clock=clock
    )
    built: list[tuple[str, Emulator]] = []
    for venue, factory in factories:
        creds = credentials.get(venue, ()) if isinstance(credentials, Mapping) else credentials
        config = EmulatorConfig(
            venue=venue,
            symbols=tuple(symbols),
            seed=seed,
            rate=rate,
            host=host,
            credentials=creds,
            simulator=sim,
            clock=clock,
            rest_port=(ports or {}).get(venue, 0),
            ws_port=(ports or {}).get(venue, -1) + 1,
            state_dir=state_dir,
        )
        try:
            built.append((venue, factory(config)))
        except (ValueError, ConfigError) as exc:
            raise EmulatorStartError(venue, str(exc)) from exc
    emulators: list[Emulator] = []
    for venue, emu in built:
        try:
            emulators.append(await tg.start(emu.serve))
        except* (OSError, ValueError) as group:
            reason = "; ".join(str(exc) for exc in _leaves(group))
            raise EmulatorStartError(venue, reason) from group
    if drive:
        tg.start_soon(sim.run)
    return sim, emulators


def _leaves(group: BaseExceptionGroup[OSError | ValueError]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out

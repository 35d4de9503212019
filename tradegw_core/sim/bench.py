"""How fast the market simulator generates events (a benchmark, not a test: it prints numbers).

Each configuration (venues x symbols) builds a seeded :class:`MarketSimulator` and calls
:meth:`~MarketSimulator.step` ``steps`` times, discarding the events the way an emulator
streams them; the best of ``repeat`` runs is kept. To make figures comparable across noisy
machines, the same run also times a bare baseline - drawing as many random ints with
:class:`random.Random` as the simulator produced events - and prints the ratio.

Run: ``python -m tradegw_core.sim.bench [--steps N] [--repeat R]``; ``python -m
tradegw_core.bench`` prints the same figures at the end.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tradegw_core.sim.market import MarketSimulator
from tradegw_core.sim.specs import VenueProfile, default_symbol_spec

__all__ = ["CONFIGS", "SimFigure", "main", "measure", "report"]

CONFIGS: tuple[tuple[int, int], ...] = ((1, 1), (3, 2))
"""The (venues, symbols) shapes reported by default."""

_VENUES = ("binance", "coinbase", "kraken", "okx", "bybit")
_SYMBOLS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT")


@dataclass(frozen=True, slots=True)
class SimFigure:
    """One measured configuration: event and step rates, and the bare baseline rate."""

    venues: int
    symbols: int
    steps: int
    events: int
    seconds: float
    bare_per_s: float

    @property
    def events_per_s(self) -> float:
        """Events (book deltas and trades) generated per second."""
        return self.events / self.seconds

    @property
    def steps_per_s(self) -> float:
        """Simulator steps per second (one step moves one symbol on every venue)."""
        return self.steps / self.seconds

    @property
    def ratio(self) -> float:
        """``events_per_s`` over the bare random-int rate of the same run."""
        return self.events_per_s / self.bare_per_s

    def line(self) -> str:
        """A one-line human summary."""
        return (
            f"  simulator {self.venues} venue(s) x {self.symbols} symbol(s): "
            f"{self.events_per_s:12,.0f} events/s ({self.steps_per_s:,.0f} steps/s, "
            f"{1e6 / self.steps_per_s:.1f} us/step), {self.ratio:.1%} of bare random ints"
        )


def _simulator(venues: int, symbols: int, seed: int) -> MarketSimulator:
    if not 1 <= venues <= len(_VENUES) or not 1 <= symbols <= len(_SYMBOLS):
        raise ValueError(f"venues in 1..{len(_VENUES)} and symbols in 1..{len(_SYMBOLS)}")
    sim = MarketSimulator(
        [default_symbol_spec(s) for s in _SYMBOLS[:symbols]], seed=seed, start_ns=0
    )
    for name in _VENUES[:venues]:
        sim.add_venue(VenueProfile(name))
    return sim


def _bare(count: int, seed: int) -> float:
    rng = random.Random(seed)
    draw = rng.randrange
    start = time.perf_counter()
    for _ in range(count):
        draw(1000)
    return time.perf_counter() - start


def measure(
    venues: int, symbols: int, *, steps: int = 20_000, repeat: int = 3, seed: int = 7
) -> SimFigure:
    """Time ``steps`` simulator steps (best of ``repeat``) and the bare baseline."""
    if steps < 1 or repeat < 1:
        raise ValueError("steps and repeat must be >= 1")
    best: tuple[float, int] | None = None
    for _ in range(repeat):
        sim = _simulator(venues, symbols, seed)
        step = sim.step
        events = 0
        start = time.perf_counter()
        for _ in range(steps):
            events += len(step())
        elapsed = time.perf_counter() - start
        if best is None or elapsed < best[0]:
            best = (elapsed, events)
    assert best is not None
    elapsed, events = best
    bare = min(_bare(events, seed) for _ in range(repeat))
    return SimFigure(venues, symbols, steps, events, max(elapsed, 1e-9), events / max(bare, 1e-9))


def report(steps: int = 20_000, repeat: int = 3) -> list[str]:
    """Summary lines for every configuration in :data:`CONFIGS`."""
    return [measure(v, s, steps=steps, repeat=repeat).line() for v, s in CONFIGS]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m tradegw_core.sim.bench``."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.sim.bench", description=__doc__)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"tradegw simulator bench: {args.steps} steps per run, best of {args.repeat}")
    for line in report(args.steps, args.repeat):
        print(line)


if __name__ == "__main__":
    main()

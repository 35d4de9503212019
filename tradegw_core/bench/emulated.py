"""Tapes recorded from our venue emulators, for what the captures lack.

:func:`record_emulator_run` runs the real gateway against a venue emulator on loopback
under a :class:`~tradegw_core.net.tape.TapeRecorder` (what ``tradegw record`` does), steps
the emulator's market a given number of times and returns the tape, the index where the
stepping began (everything before it is start-up: instruments, subscriptions, first
snapshots) and what the consumer saw. The bench replays such tapes (Kraken v2 depth 10
with a checksum on every message, Coinbase Advanced Trade ``level2``, a Binance symbol
with ~10 levels per diff); the record/replay tests compare a replay with the live run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from pydantic import SecretStr

from tradegw_core.bench.harness import Sink
from tradegw_core.net.tape import Record, TapeRecorder, TapeWriter, read_tape, using_tape

__all__ = ["Recording", "market_data_section", "record_emulator_run", "settle"]


@dataclass
class Recording:
    """One recorded emulator run."""

    records: list[Record]
    marker: int
    """Index of the first record received after the market began to step."""
    settings: dict[str, Any]
    """The provider section the run used (emulator URLs, symbols, no keys)."""
    sink: Sink
    segments: int


def market_data_section(client_settings: Any, **overrides: Any) -> dict[str, Any]:
    """An emulator's client settings without keys (no order adapter on a tape)."""
    out = {
        name: value
        for name, value in client_settings.model_dump(mode="json").items()
        if not isinstance(getattr(client_settings, name), SecretStr) and value is not None
    }
    out.update(overrides)
    return out


async def settle(sink: Sink) -> None:
    """Until every task is idle and the consumer got nothing new for 20 rounds.

    A round lets the event loop poll its sockets once more, so a frame or REST answer in
    flight on loopback lands within a few rounds.
    """
    quiet = 0
    while quiet < 20:
        seen = sink.count
        await anyio.wait_all_tasks_blocked()
        quiet = quiet + 1 if sink.count == seen else 0


async def record_emulator_run(
    venue: str,
    sink: Sink,
    *,
    steps: int,
    seed: int = 11,
    symbols: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    directory: Path | None = None,
    segment_bytes: int = 64 * 2**20,
    sim_options: Mapping[str, Any] | None = None,
    flush_every: int = 0,
) -> Recording:
    """Record ``steps`` market steps of ``venue``'s emulator through the real gateway.

    ``flush_every``: for an emulator that batches book diffs on a timer (Binance's
    ``depth@100ms``), set the timer out of the way in ``sim_options`` and flush every that
    many steps instead, so the diffs' size is chosen and the run needs no waiting.
    """
    from tradegw_core.config.loader import load_config_mapping
    from tradegw_core.gateway import Gateway
    from tradegw_core.plugin.registries import Registries
    from tradegw_core.sim.emulator import DEFAULT_SYMBOLS, EmulatorConfig
    from tradegw_core.tapes import market_data_registries

    probe = load_config_mapping({"plugins": {"enabled": [venue]}})
    config = EmulatorConfig(
        venue=venue,
        symbols=tuple(symbols or DEFAULT_SYMBOLS),
        seed=seed,
        rate=0.001,
        options=dict(sim_options or {}),
    )
    with tempfile.TemporaryDirectory() as scratch:
        tape_dir = directory or Path(scratch) / "tape"
        async with probe.registries.emulators.get(venue)(config) as emu:
            section = market_data_section(emu.client_settings(), **(overrides or {}))
            regs = Registries()
            regs.consumers.add("collect", lambda _s: sink, plugin_id="bench")
            loaded = load_config_mapping(
                {
                    "plugins": {"enabled": [venue]},
                    "gateway": {"providers": [venue], "consumers": ["collect"]},
                    "providers": {venue: section},
                },
                registries=regs,
            )
            writer = TapeWriter(tape_dir, segment_bytes=segment_bytes)
            with using_tape(TapeRecorder(writer)):
                async with Gateway(loaded.settings, market_data_registries(loaded.registries)):
                    flush = getattr(emu, "flush_depth", None) if flush_every else None
                    with anyio.fail_after(120):
                        # Start-up: every book synced (a Binance book fetches its snapshot
                        # once a first diff came, so step until then).
                        while len(sink.books) < len(config.symbols):
                            if flush is not None:
                                emu.sim.step()
                                flush()
                            await settle(sink)
                    writer.flush()
                    marker = writer.records
                    for i in range(1, steps + 1):
                        emu.sim.step()
                        if flush is not None and i % flush_every == 0:
                            flush()
                        await anyio.lowlevel.checkpoint()
                    await settle(sink)
            writer.close()
        records = read_tape(tape_dir)
    return Recording(records, marker, section, sink, len(writer.segments))

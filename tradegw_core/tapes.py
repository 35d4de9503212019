"""``tradegw record`` and ``tradegw replay``: run the gateway onto a tape, or from one.

``record`` runs the gateway as ``tradegw run`` does, and writes every frame and REST
answer its providers receive (with receive timestamps, per connection) to a bounded tape
(:mod:`tradegw_core.net.tape` gives the format). ``replay`` runs the same settings with a
:class:`~tradegw_core.net.tape.TapePlayer` in place of the venues: no network, the same
providers, book stages, dispatcher and consumers, deterministically, as fast as possible
(``--pace fast``) or at the recorded pace (``--pace recorded``, ``--speed`` to scale it).
Both run market data only: order adapters are not started (a tape holds no keys).

Usage::

    tradegw record --config settings.toml --out tapes/run1 --duration 60
    tradegw replay tapes/run1 --config settings.toml --pace recorded
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

import anyio

from tradegw_core.net.tape import TapePlayer, TapeRecorder, TapeWriter, read_tape, using_tape
from tradegw_core.plugin.registries import Registries

__all__ = ["cmd_record", "cmd_replay", "market_data_registries", "replay"]


def _load(config: str | None) -> Any:
    from tradegw_core.config.loader import load_config
    from tradegw_core.observability.logging import configure_logging

    loaded = load_config(config)
    configure_logging(loaded.settings.logging.level, loaded.settings.logging.format)
    return loaded


def market_data_registries(registries: Registries) -> Registries:
    """``registries`` without order adapters: a recorded or replayed run is market data only."""
    out = Registries()
    for source, target in zip(registries.all(), out.all(), strict=True):
        if source is registries.order_adapters:
            continue
        for name, item in source.items():
            target.add(name, item, plugin_id=source.owner(name))
    out.freeze()
    return out


def cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw record``: run the gateway and write what its providers receive."""
    from tradegw_core.gateway import run_gateway

    loaded = _load(args.config)
    writer = TapeWriter(
        Path(args.out),
        segment_bytes=int(args.segment_mb * 2**20),
        max_bytes=int(args.max_mb * 2**20),
    )
    recorder = TapeRecorder(writer)

    async def go() -> int:
        with using_tape(recorder):
            return await run_gateway(
                loaded.settings, market_data_registries(loaded.registries), duration=args.duration
            )

    try:
        code = anyio.run(go)
    finally:
        writer.close()
    out.write(
        f"recorded {writer.records} records ({writer.written / 2**20:.1f} MiB) in "
        f"{len(writer.segments)} file(s) under {args.out}\n"
    )
    if writer.dropped:
        out.write(f"! the tape was full (--max-mb {args.max_mb}): {writer.dropped} left out\n")
    return code


async def replay(
    settings: Any,
    registries: Any,
    player: TapePlayer,
    *,
    linger_s: float = 0.5,
    **options: Any,
) -> None:
    """Run a gateway on ``player`` until the tape ends, then ``linger_s`` more seconds."""
    from tradegw_core.gateway import Gateway

    with using_tape(player):
        async with Gateway(settings, registries, **options):
            await player.done.wait()
            await anyio.sleep(linger_s)


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    """``tradegw replay``: drive the configured providers from a tape."""
    loaded = _load(args.config)
    records = read_tape(Path(args.tape))
    pace = None if args.pace == "fast" else args.speed
    player = TapePlayer(records, pace=pace)
    registries = market_data_registries(loaded.registries)
    anyio.run(lambda: replay(loaded.settings, registries, player, linger_s=args.linger))
    out.write(f"replayed {player.cursor} of {len(records)} records ({player.skipped} skipped)\n")
    return 0 if player.skipped == 0 else 1

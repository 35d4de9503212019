"""``tradegw emulate VENUE...``: run venue emulators standalone on one shared market.

Prints one line per venue, ``VENUE rest=http://127.0.0.1:PORT ws=ws://127.0.0.1:PORT/...``
followed by any further ``name=url`` endpoints of the venue (:meth:`Emulator.endpoints`),
then one line per test API key under the provider settings' names (``VENUE
account=main api_key=... api_secret=...``; newlines written ``\\n``;
``--api-key VENUE=KEY --api-secret VENUE=SECRET`` set them per venue; a secret the venue
cannot use exits 2 with ``tradegw emulate: VENUE: reason``), then serves until Ctrl-C
(exit 0) or ``--duration``.

``--port VENUE=PORT`` fixes a venue's ports (REST on PORT, WebSocket on PORT+1);
``--state-dir DIR`` keeps orders, balances and fills there across restarts;
``--print-settings DIR`` writes ``DIR/settings.toml`` and ``DIR/.secrets.toml`` for
``tradegw run`` (see :mod:`tradegw_core.sim.settings_out`).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import anyio

from tradegw_core.errors import RegistryError, SchemaError
from tradegw_core.schema.symbols import split_symbol
from tradegw_core.sim.emulator import DEFAULT_SYMBOLS, ApiCredentials, EmulatorFactory
from tradegw_core.sim.group import EmulatorStartError, start_emulators
from tradegw_core.sim.settings_out import credential_lines, write_settings

__all__ = ["add_arguments", "main", "run_emulators"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``emulate`` arguments to ``parser``."""
    parser.add_argument("venues", nargs="+", metavar="VENUE", help="emulators to run")
    parser.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="market steps per second (default 5)"
    )
    parser.add_argument(
        "--symbols",
        default=",".join(DEFAULT_SYMBOLS),
        help="canonical symbols, comma separated (default %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="VENUE=KEY",
        help="test API key of one venue (repeatable; needs --api-secret for the same venue)",
    )
    parser.add_argument(
        "--api-secret",
        action="append",
        default=[],
        metavar="VENUE=SECRET",
        help="test API secret of one venue, in that venue's format (repeatable)",
    )
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="VENUE=PORT",
        help="fixed ports of one venue: REST on PORT, WebSocket on PORT+1 (repeatable)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep orders, balances and fills in DIR across restarts",
    )
    parser.add_argument(
        "--print-settings",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/settings.toml and DIR/.secrets.toml for 'tradegw run'",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after N seconds (default: never)"
    )


def main(args: argparse.Namespace, registries: Any) -> int:
    """Run the emulators named in ``args`` until Ctrl-C or SIGTERM; returns the exit code."""
    try:
        return anyio.run(_until_signalled, args, registries)
    except KeyboardInterrupt:
        return 0


async def _until_signalled(args: argparse.Namespace, registries: Any) -> int:
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    stop.set()
                    return

        tg.start_soon(watch)
        code = await run_emulators(args, registries, stop=stop)
        tg.cancel_scope.cancel()
    return code


async def run_emulators(
    args: argparse.Namespace,
    registries: Any,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: anyio.Event | None = None,
) -> int:
    """Start the emulators, print their URLs and keys, serve until ``stop``/duration/cancel."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        symbols = tuple(s.strip() for s in args.symbols.split(",") if s.strip())
        for symbol in symbols:
            split_symbol(symbol)
        factories = [(venue, registries.emulators.get(venue)) for venue in args.venues]
        plugins = [registries.emulators.owner(venue) for venue in args.venues]
    except (RegistryError, SchemaError) as exc:
        print(f"tradegw emulate: {exc}", file=err)
        return 2
    if not symbols:
        print("tradegw emulate: --symbols is empty", file=err)
        return 2
    try:
        credentials = _credentials(args)
        ports = _ports(args)
    except ValueError as exc:
        print(f"tradegw emulate: {exc}", file=err)
        return 2
    failures: list[BaseException] = []
    try:
        await _serve(args, factories, plugins, symbols, credentials, ports, out, stop)
    except* EmulatorStartError as group:
        failures.extend(group.exceptions)
    for failure in failures:
        print(f"tradegw emulate: {failure}", file=err)
    return 2 if failures else 0


def _pairs(values: list[str], flag: str, venues: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        venue, sep, item = value.partition("=")
        if not sep or not venue or not item:
            raise ValueError(f"{flag} wants VENUE=VALUE, got {value!r}")
        if venue not in venues:
            raise ValueError(f"{flag} names {venue!r}, which is not being emulated")
        if venue in out:
            raise ValueError(f"{flag} given twice for {venue!r}")
        out[venue] = item
    return out


def _ports(args: argparse.Namespace) -> dict[str, int]:
    """Per-venue fixed ports from ``--port VENUE=PORT``."""
    out: dict[str, int] = {}
    for venue, value in _pairs(args.port, "--port", args.venues).items():
        if not value.isdigit() or not 0 < int(value) < 65535:
            raise ValueError(f"--port {venue}={value}: PORT must be 1..65534")
        out[venue] = int(value)
    return out


def _credentials(args: argparse.Namespace) -> dict[str, tuple[ApiCredentials, ...]]:
    """Per-venue test keys from ``--api-key VENUE=KEY --api-secret VENUE=SECRET``."""
    keys = _pairs(args.api_key, "--api-key", args.venues)
    secrets = _pairs(args.api_secret, "--api-secret", args.venues)
    for venue in sorted(keys.keys() ^ secrets.keys()):
        missing = "--api-secret" if venue in keys else "--api-key"
        raise ValueError(f"{venue}: {missing} {venue}=... is missing")
    return {venue: (ApiCredentials(key, secrets[venue]),) for venue, key in keys.items()}


async def _serve(
    args: argparse.Namespace,
    factories: list[tuple[str, EmulatorFactory]],
    plugins: list[str],
    symbols: tuple[str, ...],
    credentials: dict[str, tuple[ApiCredentials, ...]],
    ports: dict[str, int],
    out: TextIO,
    stop: anyio.Event | None,
) -> None:
    async with anyio.create_task_group() as tg:
        _, emulators = await start_emulators(
            tg,
            factories,
            symbols=symbols,
            seed=args.seed,
            rate=args.rate,
            host=args.host,
            credentials=credentials,
            ports=ports,
            state_dir=args.state_dir,
        )
        for emu in emulators:
            urls = " ".join(f"{name}={url}" for name, url in emu.endpoints().items())
            print(f"{emu.venue} {urls}", file=out, flush=True)
        for emu in emulators:
            for line in credential_lines(emu):
                print(line, file=out, flush=True)
        if args.print_settings is not None:
            paths = write_settings(emulators, plugins, args.print_settings)
            print(f"settings {paths[0]} secrets {paths[1]}", file=out, flush=True)
        with anyio.move_on_after(math.inf if args.duration is None else args.duration):
            await (stop.wait() if stop is not None else anyio.sleep_forever())
        tg.cancel_scope.cancel()

"""``tradegw emulate VENUE...``: run venue emulators standalone on one shared market.

Prints one line per venue, ``VENUE rest=http://127.0.0.1:PORT ws=ws://127.0.0.1:PORT/...``,
then one line per test API key, then serves until Ctrl-C (exit 0) or ``--duration``.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from typing import Any, TextIO

import anyio

from tradegw_core.errors import RegistryError, SchemaError
from tradegw_core.schema.symbols import split_symbol
from tradegw_core.sim.emulator import DEFAULT_SYMBOLS, ApiCredentials
from tradegw_core.sim.group import start_emulators

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
    parser.add_argument("--api-key", default=None, help="test API key for every venue")
    parser.add_argument("--api-secret", default=None, help="test API secret for every venue")
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
    except (RegistryError, SchemaError) as exc:
        print(f"tradegw emulate: {exc}", file=err)
        return 2
    if not symbols:
        print("tradegw emulate: --symbols is empty", file=err)
        return 2
    credentials: tuple[ApiCredentials, ...] = ()
    if args.api_key:
        credentials = (ApiCredentials(args.api_key, args.api_secret or ""),)
    async with anyio.create_task_group() as tg:
        _, emulators = await start_emulators(
            tg,
            factories,
            symbols=symbols,
            seed=args.seed,
            rate=args.rate,
            host=args.host,
            credentials=credentials,
        )
        for emu in emulators:
            print(f"{emu.venue} rest={emu.rest_url} ws={emu.ws_url}", file=out, flush=True)
        for emu in emulators:
            for cred in emu.credentials:
                secret = cred.api_secret.replace("\n", "\\n")
                print(
                    f"{emu.venue} account={cred.account} api_key={cred.api_key} "
                    f"api_secret={secret}",
                    file=out,
                    flush=True,
                )
        with anyio.move_on_after(math.inf if args.duration is None else args.duration):
            await (stop.wait() if stop is not None else anyio.sleep_forever())
        tg.cancel_scope.cancel()
    return 0

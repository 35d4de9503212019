"""``tradegw demo``: venue emulators, the gateway and the example consumers, with a live view.

No keys and no internet: the Binance, Coinbase and Kraken emulators run on loopback on one
shared simulated market, the gateway's providers point at them with the emulators' test
keys, and the example consumers (printer, spread watcher, market maker) run against them.
A venue whose plugin is not installed is reported and skipped. ``--duration N`` ends the
demo by itself with exit 0; Ctrl-C ends it cleanly at any time. ``--headless`` (automatic
when stdout is not a terminal) prints periodic plain-text summaries instead of the view.
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio

from tradegw_core.observability.logging import configure_logging

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    parser.add_argument("--duration", type=float, default=None, metavar="N", help="stop after N s")
    parser.add_argument("--seed", type=int, default=7, metavar="S", help="market seed (default 7)")
    parser.add_argument(
        "--headless", action="store_true", help="plain-text summaries instead of the live view"
    )
    parser.add_argument(
        "--config", metavar="FILE", default=None, help="settings applied over the demo's own"
    )
    parser.add_argument(
        "--rate", type=float, default=4.0, help="market steps per second (default 4)"
    )
    parser.add_argument(
        "--mm-venue", default="binance", help="venue the market maker quotes on (default binance)"
    )
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between headless summaries"
    )


def main(args: argparse.Namespace, registries: Any) -> int:
    """Run the demo (``registries``: every installed plugin, frozen); return the exit code."""
    from tradegw_core.demo.runner import DemoOptions, run_demo

    options = DemoOptions(
        duration=args.duration,
        seed=args.seed,
        headless=args.headless,
        config=args.config,
        rate=args.rate,
        mm_venue=args.mm_venue,
        interval_s=args.interval,
    )
    configure_logging("WARNING")
    try:
        result = anyio.run(run_demo, options, registries)
    except KeyboardInterrupt:
        return 0
    return result.exit_code

"""Run every ``make bench`` section in turn.

``venues`` first: the real Binance, Kraken and Coinbase paths on real frames beside
cryptofeed (what a user runs). ``realpath``: consumer/symbol scaling and the paced 10k
frames/s latency on the real venue paths. Then ``pipeline``: a synthetic, bench-local
provider through the gateway (the core's share in isolation; not a venue path), ``merge``,
and ``fairness`` (one slow consumer beside two fast ones). Each section takes the options
it knows from the command line and ignores the others.
"""

from __future__ import annotations

import sys

from tradegw_core.bench import fairness, merge, pipeline, realpath, venues


def main() -> None:
    """Run the sections with the command line's arguments."""
    argv = sys.argv[1:]
    venues.main(argv)
    realpath.main(argv)
    pipeline.main(argv)
    merge.main(argv)
    fairness.main(argv)


if __name__ == "__main__":
    main()

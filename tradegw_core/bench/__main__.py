"""Run every ``make bench`` section in turn."""

from __future__ import annotations

import sys

from tradegw_core.bench import merge, pipeline


def main() -> None:
    """Run the sections with the command line's arguments."""
    pipeline.main(sys.argv[1:])
    merge.main(sys.argv[1:])


if __name__ == "__main__":
    main()

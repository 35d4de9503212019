"""``make bench-plot``: run the venue section and draw its table as ``docs/performance.png``.

One bar pair per case: tradegw and cryptofeed, us per frame (median of the runs, the
whisker spans min-max), on a log scale, with the bare ``orjson.loads`` cost of the same
frames as a tick. matplotlib is a bench-only extra (``pip install -e '.[bench]'``).

Run: ``python -m tradegw_core.bench.plot [--out docs/performance.png] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path

from tradegw_core.bench import venues

__all__ = ["draw", "main"]


def draw(results: Sequence[venues.CaseResult], out: Path, title: str) -> None:
    """Write the bar chart of ``results`` to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name.replace(" (", "\n(") for r in results]
    xs = range(len(results))
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    for offset, label, series, color in (
        (-0.2, "tradegw", [r.ours_us for r in results], "#1f77b4"),
        (0.2, "cryptofeed 2.4.1", [r.peer_us for r in results], "#ff7f0e"),
    ):
        meds = [statistics.median(s) if s else 0.0 for s in series]
        low = [m - min(s) if s else 0.0 for m, s in zip(meds, series, strict=True)]
        high = [max(s) - m if s else 0.0 for m, s in zip(meds, series, strict=True)]
        ax.bar(
            [x + offset for x in xs], meds, 0.4, yerr=[low, high], label=label, color=color,
            capsize=3,
        )  # fmt: skip
    bare = [r.bare_us or 0.0 for r in results]
    ax.scatter(list(xs), bare, marker="_", s=600, color="black", label="orjson.loads", zorder=3)
    ax.set_yscale("log")
    ax.set_ylabel("us per frame (median, min-max)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> Path:
    """Measure (``venues``) and draw; returns the PNG's path."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench.plot")
    parser.add_argument("--out", type=Path, default=Path("docs/performance.png"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=4000)
    args, _ = parser.parse_known_args(argv)
    results = venues.main(["--repeats", str(args.repeats), "--steps", str(args.steps)])
    draw(
        results,
        args.out,
        "tradegw vs cryptofeed on the same frames, same run (make bench-plot; lower is better)",
    )
    print(f"wrote {args.out}")
    return Path(args.out)


if __name__ == "__main__":
    main()

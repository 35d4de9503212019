"""``make bench`` section: the real venue paths on real frames, beside cryptofeed.

Each case feeds tradegw's real plugin (a tape of the captured session: see
:mod:`tradegw_core.bench.captures` and :mod:`tradegw_core.bench.harness`) from where the
WebSocket reader hands frames over, through provider, book stage, assembler,
orchestrator and dispatcher to a consumer callback; and cryptofeed's feed handler on the
same frames (:mod:`tradegw_core.bench.peer`). Per case it prints us/frame (median and
min-max over the repeats, each on a fresh gateway / fresh feed), the ratio to bare
``orjson.loads`` of the same frames and the ratio to cryptofeed, and checks that both
sides ended with the same books.

Run: ``python -m tradegw_core.bench.venues [--repeats N] [--cases binance,kraken,...]``.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from tradegw_core.bench.captures import BenchCase, binance_cases
from tradegw_core.bench.emulated_cases import (
    binance_levels_case,
    coinbase_level2_case,
    kraken_depth10_case,
)
from tradegw_core.bench.harness import Books, Sink, run_gateway_on
from tradegw_core.bench.kraken_cases import kraken_capture_case
from tradegw_core.bench.peer import cryptofeed_version, run_peer
from tradegw_core.testing.data import shared_data_dir

__all__ = ["CaseResult", "main", "measure_case"]


@dataclass
class CaseResult:
    """What one row of the table says."""

    name: str
    frames: int
    ours_us: list[float]
    bare_us: float | None
    peer_us: list[float] = field(default_factory=list)
    books: str = ""
    note: str = ""
    profile: list[str] = field(default_factory=list)

    def row(self) -> str:
        """The printed line."""
        med = statistics.median(self.ours_us)
        cells = [
            f"{self.name:<34}",
            f"{self.frames:>6}",
            f"{med:8.2f} ({min(self.ours_us):.2f}-{max(self.ours_us):.2f})",
        ]
        cells.append(f"{med / self.bare_us:7.1f}x" if self.bare_us else "      -")
        if self.peer_us:
            pmed = statistics.median(self.peer_us)
            cells.append(f"{pmed:8.2f} ({min(self.peer_us):.2f}-{max(self.peer_us):.2f})")
            cells.append(f"{med / pmed:6.2f}x")
        else:
            cells.append(f"{'-':>22}")
            cells.append(f"{'-':>7}")
        cells.append(self.books)
        return "  ".join(cells)


HEADER = (
    f"{'case':<34}  {'frames':>6}  {'tradegw us/frame (min-max)':<26}  {'/orjson':>7}  "
    f"{'cryptofeed us/frame':<22}  {'tg/cf':>6}  books"
)


async def _ours(
    case: BenchCase,
    *,
    keep_books: bool,
    target: int = 0,
    profiler: cProfile.Profile | None = None,
) -> tuple[float, int, Books]:
    t = case.tape
    sink = Sink(t.symbols, t.types, t.provider, keep_books=keep_books, target=target)
    async with run_gateway_on(t, sink) as run:
        if profiler is not None:
            profiler.enable()
        start = run.release()
        if target:
            with anyio.fail_after(120):
                await sink.reached.wait()
        else:
            await run.drain()
        elapsed = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
    return elapsed, sink.count, sink.books


def _bare(frames: list[bytes]) -> float | None:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is in the bench extra
        return None
    loads: Callable[[bytes], Any] = orjson.loads
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for frame in frames:
            loads(frame)
        best = min(best, time.perf_counter() - start)
    return best / len(frames) * 1e6


def top_costs(profiler: cProfile.Profile, count: int) -> list[str]:
    """The ``count`` functions with the most own time: ``share%  file:line(function)``."""
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values()) or 1.0
    rows = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:count]
    out = []
    for (file, line, func), row in rows:
        where = file.split("/site-packages/")[-1].split("/tradegw/")[-1]
        where = where.split("/src/")[-1].split("bench/")[-1] if "/src/" in where else where
        out.append(f"{row[2] / total:5.1%}  {where}:{line}({func})")
    return out


def compare_books(ours: Books, theirs: Books) -> str:
    """``same (N books, L levels)`` or what differs."""
    if not theirs:
        return "books: -"
    diffs = []
    levels = 0
    for symbol in sorted(set(ours) | set(theirs)):
        a = ours.get(symbol)
        b = theirs.get(symbol)
        if a is None or b is None:
            diffs.append(f"{symbol} missing on {'tradegw' if a is None else 'cryptofeed'}")
            continue
        levels += len(a[0]) + len(a[1])
        if a != b:
            bad = [
                sum(1 for p in set(a[k]) | set(b[k]) if a[k].get(p) != b[k].get(p)) for k in (0, 1)
            ]
            diffs.append(f"{symbol}: {bad[0]} bid / {bad[1]} ask levels differ")
    if diffs:
        return "books DIFFER: " + "; ".join(diffs[:3])
    return f"books same ({len(ours)} books, {levels} levels)"


async def measure_case(
    case: BenchCase, repeats: int, *, peer: bool, profile: int = 0
) -> CaseResult:
    """Verify once (books), then time ``repeats`` fresh runs of each side.

    ``profile``: run one more timed pass under cProfile and keep its top functions.
    """
    _, target, books = await _ours(case, keep_books=True)
    ours = []
    for _ in range(repeats):
        elapsed, _, _ = await _ours(case, keep_books=False, target=target)
        ours.append(elapsed / case.tape.frames * 1e6)
    top: list[str] = []
    if profile:
        profiler = cProfile.Profile()
        await _ours(case, keep_books=False, target=target, profiler=profiler)
        top = top_costs(profiler, profile)
    result = CaseResult(case.name, case.tape.frames, ours, _bare(case.raw_frames), note=case.note)
    result.profile = top
    if peer and case.peer is not None:
        check = await run_peer(case.peer, keep_books=True)
        result.books = compare_books(books, check.books) if check.books else "books: n/a"
        for _ in range(repeats):
            run = await run_peer(case.peer, keep_books=False)
            result.peer_us.append(run.seconds / len(case.peer.frames) * 1e6)
    return result


async def _main(repeats: int, which: Sequence[str], steps: int, profile: int) -> list[CaseResult]:
    data = shared_data_dir()
    cases: list[BenchCase] = []
    if "binance" in which:
        cases += binance_cases(data)
        if steps:
            cases.append(await binance_levels_case(steps))
    if "kraken" in which:
        if steps:
            cases.append(await kraken_depth10_case(steps))
        cases.append(kraken_capture_case(data))
    if "coinbase" in which and steps:
        cases.append(await coinbase_level2_case(steps))
    version = cryptofeed_version()
    print(
        "tradegw venues: real plugins on real frames (provider -> book stage -> orchestrator "
        f"-> dispatcher -> consumer), {repeats} fresh runs per side"
    )
    if version is None:
        print("  cryptofeed not installed: its column is left out (pip install -e '.[bench]')")
    else:
        print(f"  cryptofeed {version}: feed.message_handler on the same frames, offline")
    print("  " + HEADER)
    results = []
    for case in cases:
        result = await measure_case(case, repeats, peer=version is not None, profile=profile)
        print("  " + result.row(), flush=True)
        results.append(result)
    for result in results:
        if result.note:
            print(f"  note, {result.name}: {result.note}")
    if profile:
        print(f"  profile of one timed tradegw run per case (cProfile, top {profile} by own time):")
        for result in results:
            print(f"    {result.name}:")
            for line in result.profile:
                print(f"      {line}")
    return results


def main(argv: Sequence[str] | None = None) -> list[CaseResult]:
    """Entry point (``python -m tradegw_core.bench.venues``)."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench.venues")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cases", default="binance,kraken,coinbase")
    parser.add_argument(
        "--steps",
        type=int,
        default=4000,
        help="market steps of each emulator recording (0: captures only)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print each case's top N costs"
    )
    args, _ = parser.parse_known_args(argv)
    log = logging.getLogger("tradegw")
    level = log.level
    log.setLevel(logging.ERROR)  # the runs' start-up notes ("trading disabled": no keys here)
    try:
        return anyio.run(_main, args.repeats, args.cases.split(","), args.steps, args.profile)
    finally:
        log.setLevel(level)


if __name__ == "__main__":
    main()

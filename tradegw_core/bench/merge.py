"""``make bench`` section ``merge``: 3 venues -> 1 merge -> 1 consumer, cost per fragment.

Not a test: it prints numbers. Trades of BTC-USDT from three providers, interleaved and
time-stamped like live feeds, go through the real orchestrator (stamping), the merge stage
(windows, count/time closes on a fake clock ticked every 50 ms of event time, like the
gateway's tick) and the dispatcher, which routes each MergedEvent to one consumer's lane;
the consumer drains its lane in place. The same fragments are also run without a merge,
routed straight to one consumer (the pass-through every event pays anyway), in the same
run, so the line reports what merging adds per fragment and the ratio, not absolute
numbers of a noisy shared box.

Run: ``python -m tradegw_core.bench.merge [--fragments N] [--window-ms W] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence
from decimal import Decimal

from tradegw_core.clock import FakeClock
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.orchestrator.merge import MergeStage, merged_stream
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.orchestrator.windows import MergeSpec
from tradegw_core.schema.events import EventType, MergedEvent, StreamKey, Trade, make_event_id

__all__ = ["main", "run_once"]

VENUES = ("binance", "coinbase", "kraken")
SYMBOL = "BTC-USDT"
_TICK_NS = 50_000_000


def _fragments(n: int, start_ns: int, spacing_ns: int) -> list[Trade]:
    price, qty = Decimal("43000.10"), Decimal("0.015")
    return [
        Trade(
            event_id=make_event_id(VENUES[i % 3], SYMBOL, EventType.TRADE, i),
            provider=VENUES[i % 3],
            symbol=SYMBOL,
            venue_symbol=SYMBOL,
            seq_provider=i,
            ts_exchange=start_ns + i * spacing_ns,
            ts_ingest=i,
            trade_id=str(i),
            price=price,
            qty=qty,
        )
        for i in range(n)
    ]


class _Telemetry:
    def emit(self, name: str, /, **labels: object) -> None:
        """Drop it (suppressed windows are rare here; their cost is not the subject)."""


def run_once(n: int, window_ms: int, *, merged: bool) -> tuple[float, int, int]:
    """ns per fragment, events delivered, fragments in delivered MergedEvents."""
    clock = FakeClock()
    spacing = 100_000  # 10k fragments per second of event time over the three venues
    frags = _fragments(n, clock.time_ns(), spacing)
    dispatcher = Dispatcher(clock=clock, lane_size=max(n, 10_000))
    orchestrator = Orchestrator(dispatcher)
    lane = dispatcher.add_consumer("strategy")
    if merged:
        stage = MergeStage(dispatcher.dispatch, clock=clock, telemetry=_Telemetry())
        spec = MergeSpec(SYMBOL, EventType.TRADE, VENUES, window_ms, 100_000)
        stage.add(spec)
        orchestrator.merge = stage
        dispatcher.subscribe("strategy", [merged_stream(spec.key)])
    else:
        dispatcher.subscribe("strategy", [StreamKey(v, SYMBOL, EventType.TRADE) for v in VENUES])
    emit, pop, advance = orchestrator.emit, lane.pop_nowait, clock.advance
    per_tick = _TICK_NS // spacing
    delivered = in_merged = 0
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for start in range(0, n, per_tick):
            for frag in frags[start : start + per_tick]:
                emit(frag)
            advance(ns=_TICK_NS)
            if merged:
                stage.tick()
            while (event := pop()) is not None:
                delivered += 1
                if isinstance(event, MergedEvent):
                    in_merged += sum(len(v) for v in event.fragments.values())
        if merged:  # the last windows close once their time and the skew allowance pass
            advance(ns=(window_ms + stage.allowed_skew_ms) * 1_000_000)
            stage.tick()
            while (event := pop()) is not None:
                delivered += 1
                if isinstance(event, MergedEvent):
                    in_merged += sum(len(v) for v in event.fragments.values())
        elapsed = time.perf_counter_ns() - t0
    finally:
        gc.enable()
    return elapsed / n, delivered, in_merged


def main(argv: Sequence[str] = ()) -> None:
    """Print the merge section (other sections' arguments are ignored)."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench.merge")
    parser.add_argument("--fragments", type=int, default=60_000)
    parser.add_argument("--window-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args, _ = parser.parse_known_args(list(argv))
    n, window = max(args.fragments, 3), args.window_ms
    plain: list[float] = []
    merged: list[float] = []
    windows = fragments = 0
    for _ in range(max(args.repeat, 1)):
        plain.append(run_once(n, window, merged=False)[0])
        cost, windows, fragments = run_once(n, window, merged=True)
        merged.append(cost)
    base, cost = statistics.median(plain), statistics.median(merged)
    print(
        f"merge: 3 venues -> 1 merge ({window} ms windows) -> 1 consumer: "
        f"{cost:.0f} ns per fragment; {windows} MergedEvents of ~{fragments // max(windows, 1)} "
        f"fragments ({fragments} of {n} fragments delivered merged)"
    )
    print(
        f"merge: same fragments passed through to 1 consumer without a merge: {base:.0f} ns "
        f"per fragment; merging adds {cost - base:.0f} ns per fragment "
        f"({cost / base:.2f}x the pass-through, medians of {len(merged)} runs)"
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

"""``make bench`` section ``realpath``: scaling and paced latency on the real venue paths.

* Scaling: the real Binance plugin on depth diffs in the venue's wire format (combined
  stream ``<sym>@depth@100ms``, one REST snapshot per symbol, an ``exchangeInfo`` listing
  the symbols; the captures hold 11 symbols, so these frames are generated, ~2 levels per
  diff like the 11-symbol capture) over 10 and 1000 symbols, to 1, 10 and 100 consumers:
  us per frame and ns per delivered event (the gateway's cost, design section 13: flat in
  consumers and symbols).
* Paced latency: the same Binance frames, and a Kraken v2 depth-10 tape recorded from our
  emulator (checksum on every message), played at 10,000 frames/s; p50/p99/p99.9 of frame
  receipt (the WebSocket reader's timestamp) -> consumer callback.

Run: ``python -m tradegw_core.bench.realpath [--frames N] [--paced-frames N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import anyio

from tradegw_core.bench.harness import Sink, TapeCase, run_gateway_on
from tradegw_core.net.tape import Record

__all__ = ["binance_wire_case", "main", "percentiles"]

_REST = "https://api.binance.com"
_CONN = "binance-0.0#1"
_TYPES = ["BookSnapshot", "BookUpdate"]


def _base(k: int) -> str:
    letters = ""
    for _ in range(3):
        k, r = divmod(k, 26)
        letters += chr(65 + r)
    return "Q" + letters


def _symbol_info(base: str) -> dict[str, Any]:
    """An exchangeInfo entry shaped like the captured NKNUSDT one (tick 0.0001, step 1)."""
    return {
        "symbol": f"{base}USDT",
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "isSpotTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00010000",
             "maxPrice": "1000.00000000", "tickSize": "0.00010000"},
            {"filterType": "LOT_SIZE", "minQty": "1.00000000", "maxQty": "9000000.00000000",
             "stepSize": "1.00000000"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000"},
        ],
    }  # fmt: skip


def binance_wire_case(frames: int, symbols: int, *, seed: int = 7) -> TapeCase:
    """A tape of ``frames`` Binance depth diffs over ``symbols`` symbols (see the docstring)."""
    rng = random.Random(seed)
    bases = [_base(k) for k in range(symbols)]
    venue = [f"{b}USDT" for b in bases]
    info = {"timezone": "UTC", "serverTime": 0, "rateLimits": [], "exchangeFilters": [],
            "symbols": [_symbol_info(b) for b in bases]}  # fmt: skip
    update = [1000] * symbols
    mids = [3000 + 7 * k for k in range(symbols)]  # in ticks of 0.0001

    def diff(k: int) -> str:
        first = update[k] + 1
        update[k] = last = first + rng.randrange(3)
        sides = []
        for sign in (-1, 1):
            levels = []
            for _ in range(rng.choice((0, 1, 1, 2))):
                ticks = mids[k] + sign * rng.randint(1, 40)
                qty = rng.choice((0, rng.randint(1, 50_000)))
                levels.append(f'["{ticks / 10_000:.8f}","{qty:.8f}"]')
            sides.append(",".join(levels))
        return (
            f'{{"stream":"{venue[k].lower()}@depth@100ms","data":{{"e":"depthUpdate",'
            f'"E":{1_700_000_000_000 + first},"s":"{venue[k]}","U":{first},"u":{last},'
            f'"b":[{sides[0]}],"a":[{sides[1]}]}}}}'
        )

    records: list[Record] = [
        (0, "http", f"GET {_REST}/api/v3/exchangeInfo", json.dumps(info), 200),
        (0, "open", _CONN, "", None),
        (0, "send", _CONN, "SUBSCRIBE", None),
        (0, "recv", _CONN, '{"result":null,"id":1}', None),
    ]
    gate = len(records)
    for k in range(symbols):
        bids = [[f"{(mids[k] - j) / 10_000:.8f}", "100.00000000"] for j in range(1, 21)]
        asks = [[f"{(mids[k] + j) / 10_000:.8f}", "100.00000000"] for j in range(1, 21)]
        snapshot = json.dumps({"lastUpdateId": 1000, "bids": bids, "asks": asks})
        records.append((0, "recv", _CONN, diff(k), None))
        url = f"GET {_REST}/api/v3/depth?symbol={venue[k]}&limit=100"
        records.append((0, "http", url, snapshot, 200))
    marker = len(records)
    for i in range(frames):
        records.append(((i + 1) * 100_000, "recv", _CONN, diff(rng.randrange(symbols)), None))
    canonical = [f"{b}-USDT" for b in bases]
    # limit=100 weighs 5: 1000 snapshots stay inside the REST weight budget (6000/min).
    settings = {"symbols": canonical, "rest_url": _REST, "depth": 100}
    return TapeCase("binance", settings, records, marker, canonical, _TYPES, gate=gate)


def percentiles(values: Sequence[int]) -> tuple[float, float, float]:
    """p50, p99, p99.9 in microseconds."""
    ordered = sorted(values)
    pick = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.99, 0.999)]
    return pick[0] / 1000, pick[1] / 1000, pick[2] / 1000


async def _timed(case: TapeCase, consumers: int, target: int) -> float:
    sinks = [Sink(case.symbols, case.types, case.provider, target=target) for _ in range(consumers)]
    async with run_gateway_on(case, sinks) as run:
        start = run.release()
        with anyio.fail_after(120):
            for sink in sinks:
                await sink.reached.wait()
        return time.perf_counter() - start


async def _count(case: TapeCase) -> int:
    sink = Sink(case.symbols, case.types, case.provider)
    async with run_gateway_on(case, [sink]) as run:
        run.release()
        await run.drain()
    return sink.count


async def scaling_lines(frames: int, wide: int = 1000) -> list[str]:
    """us/frame and ns per delivered event, 1/10/100 consumers x 10/``wide`` symbols."""
    lines = []
    for symbols in (10, wide):
        for consumers in (1, 10, 100):
            n = max(min(frames, 2_000), min(frames, 400_000 // consumers))
            case = binance_wire_case(n, symbols)
            target = await _count(case)
            elapsed = await _timed(case, consumers, target)
            lines.append(
                f"  real Binance path, {symbols:>4} symbols -> {consumers:>3} consumer(s): "
                f"{elapsed / n * 1e6:7.2f} us/frame, "
                f"{elapsed / (target * consumers) * 1e9:7.0f} ns per delivered event "
                f"({n} frames)"
            )
    return lines


async def paced_line(name: str, case: TapeCase, rate: float) -> str:
    """Play ``case``'s timed frames at ``rate`` frames/s; latency receipt -> callback."""
    step = int(1e9 / rate)
    head = case.records[: case.marker]
    tail = [(i * step, *r[1:]) for i, r in enumerate(case.records[case.marker :])]
    paced = TapeCase(
        case.provider,
        case.settings,
        head + tail,
        case.marker,
        case.symbols,
        case.types,
        responder=case.responder,
        gate=case.gate,
    )
    sink = Sink(case.symbols, case.types, case.provider, measure_latency=True)
    async with run_gateway_on(paced, [sink], pace=1.0) as run:
        run.release()
        await run.drain()
    p50, p99, p999 = percentiles(sink.latencies)
    return (
        f"  paced {rate:,.0f} frames/s, {name}: {len(sink.latencies)} events, latency "
        f"p50 {p50:.1f} us, p99 {p99:.1f} us, p99.9 {p999:.1f} us"
    )


async def _main(frames: int, paced_frames: int, steps: int, wide: int) -> None:
    from tradegw_core.bench.emulated_cases import kraken_depth10_case

    print("tradegw real-path scaling and latency (design section 13)")
    for line in await scaling_lines(frames, wide):
        print(line, flush=True)
    binance = binance_wire_case(paced_frames, 10)
    print(await paced_line("real Binance depth path (10 symbols)", binance, 10_000), flush=True)
    if steps:
        kraken = (await kraken_depth10_case(steps)).tape
        print(await paced_line("real Kraken v2 depth 10 path", kraken, 10_000), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point (``python -m tradegw_core.bench.realpath``)."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench.realpath")
    parser.add_argument("--frames", type=int, default=40_000)
    parser.add_argument("--paced-frames", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--scale", type=int, default=1000, help="symbols of the wide runs")
    args, _ = parser.parse_known_args(argv)
    log = logging.getLogger("tradegw")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        anyio.run(_main, args.frames, args.paced_frames, args.steps, args.scale)
    finally:
        log.setLevel(level)


if __name__ == "__main__":
    main()

"""``make bench`` section ``pipeline``: SYNTHETIC frames through the dispatcher (not a venue path).

Not a test: it prints numbers, and not what a user runs: the real venue paths are in
:mod:`tradegw_core.bench.venues`. This section isolates the core's share. A synthetic
provider turns Binance-shaped JSON frames (depth diffs and trades, as in
``docs/protocols/binance.md``) into canonical events: typed msgspec decoding, ``Decimal``
levels, then ``ProviderContext.emit`` inside the feeding task, like a connection reader.
The run goes through a real :class:`Gateway` to 1, 10 and 100 consumers (then to 1 and 10
over 1000 symbols) and reports events/s, the gateway's cost per delivered event (the
provider's own cost, measured alone, taken out), the added latency p50/p99, and the ratio
to bare JSON decoding of the same frames measured in the same run.

At the end it prints the market simulator's event rate (:mod:`tradegw_core.sim.bench`).

Run: ``python -m tradegw_core.bench [--frames N] [--consumers 1,10,100] [--sim-steps N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
from anyio.abc import TaskStatus

from tradegw_core.contracts import ProviderContext, StreamSpec
from tradegw_core.schema.events import BookUpdate, Event, EventType, Level, Side, Trade
from tradegw_core.schema.symbols import Instrument, Symbol

__all__ = ["main", "make_frames"]


class DepthMsg(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """Binance spot ``<symbol>@depth`` diff."""

    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class TradeMsg(msgspec.Struct, tag_field="e", tag="trade"):
    """Binance spot ``<symbol>@trade``."""

    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


_BASES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC", "DOT", "AVAX", "LINK")

_WIDE_SYMBOLS = 1000
"""The symbol count of the wide runs (cost per delivered event must not grow with it)."""


def _pair(k: int) -> tuple[str, str]:
    """Venue and canonical names of synthetic pair ``k``: BTCUSDT, ..., then BTC1USDT, ..."""
    base = _BASES[k % len(_BASES)] + (str(k // len(_BASES)) if k >= len(_BASES) else "")
    return f"{base}USDT", f"{base}-USDT"


def make_frames(count: int, *, symbols: int = 10, seed: int = 7) -> list[bytes]:
    """Binance-like frames: about two depth diffs per trade, spread over ``symbols`` pairs."""
    rng = random.Random(seed)
    update_id = dict.fromkeys(range(symbols), 1000)
    trade_id = dict.fromkeys(range(symbols), 5000)
    frames: list[bytes] = []
    for i in range(count):
        k = rng.randrange(symbols)
        venue = _pair(k)[0]
        mid = 100 + k
        if rng.random() < 0.66:
            first = update_id[k] + 1
            update_id[k] = last = first + rng.randrange(3)
            bids = [
                [f"{mid - j * 0.01:.8f}", f"{rng.random():.8f}"] for j in range(rng.randint(1, 5))
            ]
            asks = [
                [f"{mid + j * 0.01:.8f}", f"{rng.random():.8f}"] for j in range(rng.randint(1, 5))
            ]
            body: dict[str, Any] = {
                "e": "depthUpdate",
                "E": 1_700_000_000_000 + i,
                "s": venue,
                "U": first,
                "u": last,
                "b": bids,
                "a": asks,
            }
        else:
            trade_id[k] += 1
            body = {
                "e": "trade",
                "E": 1_700_000_000_000 + i,
                "s": venue,
                "t": trade_id[k],
                "p": f"{mid:.8f}",
                "q": f"{rng.random():.8f}",
                "T": 1_700_000_000_000 + i,
                "m": rng.random() < 0.5,
            }
        frames.append(msgspec.json.encode(body))
    return frames


class SyntheticProvider:
    """A ``contracts.Provider`` fed from memory: the bench's stand-in for a venue."""

    def __init__(self, ctx: ProviderContext, symbols: int) -> None:
        self.ctx = ctx
        self._decoder = msgspec.json.Decoder(DepthMsg | TradeMsg)
        self._symbols = {venue: Symbol(sym) for venue, sym in (_pair(k) for k in range(symbols))}
        self._instruments = {
            sym: Instrument(
                provider="synthetic",
                symbol=sym,
                venue_symbol=venue,
                base=sym.split("-")[0],
                quote="USDT",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.00000001"),
            )
            for venue, sym in self._symbols.items()
        }

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        """Ready at once; frames come through :meth:`feed`."""
        task_status.started()
        await anyio.sleep_forever()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """The synthetic pairs."""
        return self._instruments

    def supported_types(self) -> frozenset[EventType]:
        """Trades and book updates."""
        return frozenset({EventType.TRADE, EventType.BOOK_UPDATE})

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Nothing to tell a synthetic venue."""

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Nothing to tell a synthetic venue."""

    def feed(self, frame: bytes) -> None:
        """One frame, as a connection reader handles it (synchronous, hot path)."""
        ts = time.monotonic_ns()
        msg = self._decoder.decode(frame)
        symbol = self._symbols[msg.s]
        event: Event
        if type(msg) is DepthMsg:
            event = BookUpdate(
                event_id=f"synthetic:{symbol}:BookUpdate:{msg.u}",
                provider="synthetic",
                symbol=symbol,
                venue_symbol=msg.s,
                seq_provider=msg.u,
                ts_exchange=msg.E * 1_000_000,
                ts_ingest=ts,
                bids=tuple(Level(Decimal(p), Decimal(q)) for p, q in msg.b),
                asks=tuple(Level(Decimal(p), Decimal(q)) for p, q in msg.a),
                first_seq=msg.U,
                last_seq=msg.u,
            )
        else:
            assert type(msg) is TradeMsg
            event = Trade(
                event_id=f"synthetic:{symbol}:Trade:{msg.t}",
                provider="synthetic",
                symbol=symbol,
                venue_symbol=msg.s,
                seq_provider=msg.t,
                ts_exchange=msg.T * 1_000_000,
                ts_ingest=ts,
                trade_id=str(msg.t),
                price=Decimal(msg.p),
                qty=Decimal(msg.q),
                side=Side.SELL if msg.m else Side.BUY,
            )
        self.ctx.emit(event)


class CountingConsumer:
    """Records the added latency of every event and signals when it saw ``target``."""

    def __init__(self, symbols: list[str], target: int) -> None:
        self.symbols = symbols
        self.target = target
        self.latencies: list[int] = []
        self.done = anyio.Event()

    async def on_start(self, ctx: Any) -> None:
        """Subscribe to every synthetic stream."""
        ack = await ctx.subscribe(["synthetic"], self.symbols, ["Trade", "BookUpdate"])
        if not ack.ok:
            raise RuntimeError(ack.error)

    async def on_events(self, events: Sequence[Event]) -> None:
        """Measure and count a batch (the cheap way in: one call per batch)."""
        now = time.monotonic_ns()
        self.latencies.extend([now - event.ts_ingest for event in events])
        if len(self.latencies) >= self.target:
            self.done.set()

    async def on_event(self, event: Event) -> None:
        """Measure and count."""
        await self.on_events((event,))

    async def on_exec_report(self, report: Any) -> None:
        """None in the bench."""

    async def on_stop(self) -> None:
        """Nothing to release."""


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def _pipeline(
    frames: list[bytes], consumers: int, symbols: int, *, rate: float | None, batch: int
) -> tuple[float, float, list[int]]:
    """Wall seconds, this process's CPU seconds, and every delivery's latency (ns)."""
    from tradegw_core.config.models import DispatcherSettings, GatewaySettings, Settings
    from tradegw_core.gateway import Gateway
    from tradegw_core.plugin.registries import Registries

    # Start clean: a full collection of what earlier runs left would otherwise land in this
    # run's latency tail (tens of ms on this code base), whichever run it happens to hit.
    gc.collect()
    made: list[SyntheticProvider] = []
    names = [f"c{i}" for i in range(consumers)]
    sym_names = [_pair(k)[1] for k in range(symbols)]
    sinks = {n: CountingConsumer(sym_names, len(frames)) for n in names}
    regs = Registries()

    def provider_factory(ctx: ProviderContext) -> SyntheticProvider:
        made.append(SyntheticProvider(ctx, symbols))
        return made[-1]

    regs.providers.add("synthetic", provider_factory, plugin_id="bench")
    for n in names:
        regs.consumers.add(n, lambda _s, n=n: sinks[n], plugin_id="bench")
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(providers=("synthetic",), consumers=tuple(names)),
        # A budget no run reaches: the token buckets do their work on every delivery (their
        # cost is measured) but never throttle, so every run delivers every frame.
        dispatcher=DispatcherSettings(
            lane_size=max(batch * 4, 10_000), rate=1_000_000_000, burst=1_000_000
        ),
    )
    async with Gateway(settings, regs):
        provider = made[-1]
        feed = provider.feed
        start = time.perf_counter()
        cpu = time.process_time()
        for i in range(0, len(frames), batch):
            for frame in frames[i : i + batch]:
                feed(frame)
            if rate is None:
                await anyio.lowlevel.checkpoint()
            else:
                ahead = start + (i + batch) / rate - time.perf_counter()
                await anyio.sleep(max(ahead, 0))
        for sink in sinks.values():
            await sink.done.wait()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return elapsed, cpu, [lat for sink in sinks.values() for lat in sink.latencies]


def _bare_decode(frames: list[bytes]) -> float:
    decode = msgspec.json.decode
    start = time.perf_counter()
    for frame in frames:
        decode(frame)
    return time.perf_counter() - start


class _NoEmit:
    def emit(self, event: Event) -> None:
        """Drop the event: measures the synthetic provider alone."""


def _provider_ns(frames: list[bytes], symbols: int) -> float:
    """Nanoseconds per frame of the synthetic provider alone (typed decode, Decimal, event)."""
    provider = SyntheticProvider(_NoEmit(), symbols)  # type: ignore[arg-type]
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for frame in frames:
            provider.feed(frame)
        best = min(best, time.process_time() - start)
    return best / len(frames) * 1e9


async def _pipeline_line(
    frames: list[bytes], consumers: int, symbols: int, batch: int, bare_rate: float, prov: float
) -> str:
    elapsed, cpu, lat = await _pipeline(frames, consumers, symbols, rate=None, batch=batch)
    rate = len(frames) / elapsed
    # What the gateway adds per delivered event: the provider's own cost taken out. CPU time
    # of this process, not wall time: on a shared machine other processes' turns would
    # otherwise count as ours.
    per_delivery = max(0.0, cpu / len(frames) * 1e9 - prov) / consumers
    return (
        f"  pipeline -> {consumers:>3} consumer(s), {symbols:>4} symbols: {rate:9,.0f} events/s "
        f"({rate * consumers:10,.0f} deliveries/s), {per_delivery:5.0f} ns per delivered event, "
        f"latency p50 {_pct(lat, 0.5):7.1f} us p99 {_pct(lat, 0.99):7.1f} us, "
        f"{rate / bare_rate:.1%} of bare decode"
    )


async def _main(frames_n: int, consumer_counts: list[int], symbols: int, batch: int) -> None:
    frames = make_frames(frames_n, symbols=symbols)
    bare = min(_bare_decode(frames) for _ in range(3))
    bare_rate = frames_n / bare
    prov = _provider_ns(frames, symbols)
    print(
        f"tradegw synthetic pipeline (bench-local messages and provider, NOT a venue path): "
        f"{frames_n} Binance-like frames (depth diffs + trades), {symbols} symbols"
    )
    print(f"  bare JSON decode (msgspec, untyped): {bare_rate:12,.0f} frames/s")
    print(
        f"  synthetic provider alone (typed decode, Decimal, events): {1e9 / prov:,.0f} frames/s"
        f" ({prov:.0f} ns/frame, left out of the gateway's cost below)"
    )
    for consumers in consumer_counts:
        # Keep each run near a million deliveries at most: the cost per delivery is the figure.
        n = min(frames_n, max(10_000, 1_000_000 // consumers))
        print(await _pipeline_line(frames[:n], consumers, symbols, batch, bare_rate, prov))
    if symbols < _WIDE_SYMBOLS:
        wide = make_frames(frames_n, symbols=_WIDE_SYMBOLS)
        wide_prov = _provider_ns(wide, _WIDE_SYMBOLS)
        for consumers in (1, 10):
            n = min(frames_n, max(10_000, 1_000_000 // consumers))
            line = await _pipeline_line(
                wide[:n], consumers, _WIDE_SYMBOLS, batch, bare_rate, wide_prov
            )
            print(line)
    paced_n = min(frames_n, 20_000)
    _, _, lat = await _pipeline(frames[:paced_n], 1, symbols, rate=10_000, batch=10)
    print(
        f"  paced 10k events/s -> 1 consumer: latency p50 {_pct(lat, 0.5):.1f} us "
        f"p99 {_pct(lat, 0.99):.1f} us p99.9 {_pct(lat, 0.999):.1f} us"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m tradegw_core.bench``."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.bench", description=__doc__)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--consumers", default="1,10,100", help="comma-separated consumer counts")
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--batch", type=int, default=256, help="frames per reader wake-up")
    parser.add_argument(
        "--sim-steps", type=int, default=None, help="simulator steps (default: frames / 5)"
    )
    args, _ = parser.parse_known_args(argv)
    counts = [int(c) for c in args.consumers.split(",") if c]
    anyio.run(_main, args.frames, counts, args.symbols, args.batch)
    _simulator_figures(args.sim_steps or min(20_000, max(500, args.frames // 5)))


def _simulator_figures(steps: int) -> None:
    """The market simulator's generation rate (see :mod:`tradegw_core.sim.bench`)."""
    from tradegw_core.sim.bench import report

    print(f"tradegw simulator: {steps} steps per run, best of 3")
    for line in report(steps):
        print(line)


if __name__ == "__main__":
    main()

"""The demo's live terminal view (rich ``Live``) and its plain-text, headless form.

:class:`Monitor` turns the running gateway, the view tap and the example consumers into a
:class:`ViewData` (pure data), which :func:`render_rich` (``richview``) draws as tables and
:func:`render_text` / :func:`final_summary` as plain lines. :func:`show` drives either the
live view (about 4 refreshes a second) or a periodic summary when headless or when the
output is not a terminal. The example consumers are read duck-typed (``latest`` of the
spread watcher; ``live``/``finished``/``states_seen``/``position`` of the market maker), so
the core does not import the examples plugin.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TextIO

import anyio
from rich.console import Console
from rich.live import Live

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.demo.richview import render_rich
from tradegw_core.demo.tap import DemoTap

__all__ = [
    "ConsumerData",
    "Monitor",
    "OrderData",
    "RowData",
    "ViewData",
    "final_summary",
    "render_rich",
    "render_text",
    "show",
]


class _Options(Protocol):
    @property
    def headless(self) -> bool: ...
    @property
    def interval_s(self) -> float: ...
    @property
    def refresh_per_second(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RowData:
    """One venue and symbol."""

    venue: str
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: str
    events: int
    rate: float
    resyncs: int
    lag_ms: float

    @property
    def spread(self) -> Decimal | None:
        """``ask - bid`` when both are known."""
        return None if self.bid is None or self.ask is None else self.ask - self.bid


@dataclass(frozen=True, slots=True)
class ConsumerData:
    """One consumer's counters and what waits in its lane."""

    name: str
    events: int
    exec_reports: int
    errors: int
    queued: int


@dataclass(frozen=True, slots=True)
class OrderData:
    """One of the market maker's orders."""

    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal
    filled: Decimal
    state: str


@dataclass(slots=True)
class ViewData:
    """Everything the view shows at one instant."""

    elapsed_s: float = 0.0
    rows: list[RowData] = field(default_factory=list)
    consumers: list[ConsumerData] = field(default_factory=list)
    orders: list[OrderData] = field(default_factory=list)
    maker: str = ""
    spreads: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    exec_states: dict[str, int] = field(default_factory=dict)

    @property
    def consumer_events(self) -> dict[str, int]:
        """Market-data events per consumer."""
        return {c.name: c.events for c in self.consumers}

    @property
    def consumer_exec_reports(self) -> dict[str, int]:
        """Execution reports per consumer."""
        return {c.name: c.exec_reports for c in self.consumers}

    def events_by_venue(self) -> dict[str, int]:
        """Tap events per venue."""
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.venue] = out.get(row.venue, 0) + row.events
        return out


class Monitor:
    """Collects :class:`ViewData` from a running gateway (attach it once it runs)."""

    def __init__(
        self,
        tap: DemoTap,
        *,
        hints: list[str] | None = None,
        skipped: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.tap = tap
        self.hints = list(hints or [])
        self.skipped = dict(skipped or {})
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.gateway: Any = None
        self.resyncs: Counter[tuple[str, str]] = Counter()
        self.final = ViewData()
        """The last collection, taken after the gateway stopped."""
        self.shown = anyio.Event()
        """Set once the view has printed its final summary."""
        self._sub: Any = None
        self._start_ns = self.clock.monotonic_ns()
        self._prev: dict[tuple[str, str], tuple[int, int]] = {}

    def attach(self, gateway: Any) -> None:
        """Start reading ``gateway`` (its consumers, lanes and telemetry)."""
        self.gateway = gateway
        self._sub = gateway.telemetry.subscribe("demo-view", buffer=1024)

    def detach(self) -> None:
        """Stop the telemetry subscription."""
        if self._sub is not None:
            self._drain()
            self._sub.close()
            self._sub = None

    def _drain(self) -> None:
        sub = self._sub
        while sub is not None and (event := sub.receive_nowait()) is not None:
            if event.name == "book.resync":
                key = (event.labels.get("provider", "?"), event.labels.get("symbol", "?"))
                self.resyncs[key] += 1

    def collect(self) -> ViewData:
        """The view's data now; rates are since the previous call."""
        self._drain()
        now = self.clock.monotonic_ns()
        lags = self.tap.take_max_lag()
        rows: list[RowData] = []
        for key, row in sorted(self.tap.rows.items()):
            prev_events, prev_ns = self._prev.get(key, (0, self._start_ns))
            dt = (now - prev_ns) / 1e9
            rate = (row.events - prev_events) / dt if dt > 0 else 0.0
            self._prev[key] = (row.events, now)
            last = "-"
            if row.last_price is not None:
                side = f" {row.last_side}" if row.last_side is not None else ""
                qty = f" x {row.last_qty}" if row.last_qty is not None else ""
                last = f"{row.last_price}{qty}{side}"
            rows.append(
                RowData(
                    row.venue,
                    row.symbol,
                    row.bid,
                    row.ask,
                    last,
                    row.events,
                    rate,
                    self.resyncs.get(key, 0),
                    lags.get(key, 0) / 1e6,
                )
            )
        data = ViewData(
            elapsed_s=(now - self._start_ns) / 1e9,
            rows=rows,
            hints=self.hints,
            skipped=self.skipped,
        )
        gw = self.gateway
        if gw is not None:
            self._collect_gateway(gw, data)
        return data

    def _collect_gateway(self, gw: Any, data: ViewData) -> None:
        for name, stats in gw.consumer_stats.items():
            lane = gw.dispatcher.lanes.get(name)
            queued = 0 if lane is None else lane.depth + lane.exec_depth
            data.consumers.append(
                ConsumerData(name, stats.events, stats.exec_reports, stats.errors, queued)
            )
        spread = gw.consumers.get("spread")
        for cross in getattr(spread, "latest", {}).values():
            data.spreads.append(
                f"{cross.symbol}: best bid {cross.bid} @ {cross.bid_venue}, best ask "
                f"{cross.ask} @ {cross.ask_venue}, spread {cross.spread} "
                f"({cross.spread_bps} bps){' CROSSED' if cross.crossed else ''}"
            )
        maker = gw.consumers.get("market_maker")
        if maker is None or not hasattr(maker, "states_seen"):
            return
        orders = [*getattr(maker, "finished", {}).values(), *getattr(maker, "live", {}).values()]
        data.orders = [
            OrderData(o.client_order_id, str(o.side), o.price, o.qty, o.cum_qty, o.state)
            for o in orders[-10:]
        ]
        data.exec_states = dict(maker.states_seen)
        s = maker.settings
        data.maker = (
            f"market maker on {s.provider} {s.symbol}: mid {maker.mid}, position "
            f"{maker.position}, fills {maker.fills}, suppressed {maker.suppressed}, "
            f"rejected {maker.rejected}, live orders {len(maker.live)}"
        )


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else str(value)


def render_text(data: ViewData) -> str:
    """One headless summary: a line per venue and symbol, then consumers and the maker."""
    lines = [f"[{data.elapsed_s:6.1f}s]"]
    for r in data.rows:
        lines.append(
            f"  {r.venue:<9} {r.symbol:<9} bid {_fmt(r.bid):>12} ask {_fmt(r.ask):>12} "
            f"spread {_fmt(r.spread):>8} last {r.last} | {r.rate:.1f} ev/s, {r.events} events, "
            f"{r.resyncs} resyncs, lag {r.lag_ms:.2f} ms"
        )
    for c in data.consumers:
        lines.append(
            f"  consumer {c.name}: {c.events} events, {c.exec_reports} exec reports, "
            f"{c.errors} errors, {c.queued} queued"
        )
    if data.maker:
        lines.append(f"  {data.maker}")
    lines.extend(f"  {line}" for line in data.spreads)
    return "\n".join(lines)


def final_summary(data: ViewData) -> str:
    """What the demo prints when it ends: events per venue, exec report states seen."""
    lines = ["tradegw demo summary"]
    for venue, count in sorted(data.events_by_venue().items()):
        lines.append(f"  events from {venue}: {count}")
    for venue, why in sorted(data.skipped.items()):
        lines.append(f"  skipped {venue}: {why}")
    for c in data.consumers:
        lines.append(f"  consumer {c.name}: {c.events} events, {c.exec_reports} exec reports")
    states = ", ".join(f"{k}={v}" for k, v in sorted(data.exec_states.items())) or "none"
    lines.append(f"  exec report states seen: {states}")
    if data.maker:
        lines.append(f"  {data.maker}")
    return "\n".join(lines)


async def _tick(finished: anyio.Event, seconds: float) -> None:
    with anyio.move_on_after(seconds):
        await finished.wait()


async def show(monitor: Monitor, options: _Options, out: TextIO, finished: anyio.Event) -> None:
    """Live view (or headless summaries) until ``finished``; then the final summary."""
    try:
        if options.headless or not out.isatty():
            while not finished.is_set():
                await _tick(finished, options.interval_s)
                if not finished.is_set():
                    print(render_text(monitor.collect()), file=out, flush=True)
        else:
            console = Console(file=out)
            period = 1.0 / options.refresh_per_second
            with Live(
                render_rich(monitor.collect()),
                console=console,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
            ) as live:
                while not finished.is_set():
                    await _tick(finished, period)
                    if not finished.is_set():
                        live.update(render_rich(monitor.collect()), refresh=True)
        monitor.final = monitor.collect()
        print(final_summary(monitor.final), file=out, flush=True)
    finally:
        monitor.detach()
        monitor.shown.set()

"""The demo's composition: emulators on loopback, a gateway pointed at them, example consumers.

:func:`run_demo` starts every requested venue emulator on one shared market simulator,
builds the gateway settings so each provider talks to its emulator with the emulator's
test keys, runs the gateway with the example consumers and a view tap, and shows the live
view (or a periodic plain-text summary) until the duration ends, Ctrl-C or SIGTERM.

Each venue emulator says how its provider reaches it through ``Emulator.client_settings()``
(the plugin's settings model pointing at itself with its first test credentials).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from pydantic import BaseModel, SecretStr

from tradegw_core.config.loader import compose_from_registries, read_raw_config
from tradegw_core.config.validation import validate_section
from tradegw_core.demo.tap import TAP_CONSUMER, DemoTap
from tradegw_core.demo.view import Monitor, show
from tradegw_core.gateway import Gateway, run_gateway
from tradegw_core.observability.metrics import Metrics, MetricsExporter
from tradegw_core.plugin.registries import Registries
from tradegw_core.sim.emulator import Emulator, EmulatorConfig
from tradegw_core.sim.market import MarketSimulator, default_symbol_spec

__all__ = [
    "DEFAULT_SYMBOLS",
    "VENUES",
    "DemoOptions",
    "DemoResult",
    "build_settings",
    "client_settings_for",
    "run_demo",
    "with_consumer",
]

VENUES: tuple[str, ...] = ("binance", "coinbase", "kraken")
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC-USDT", "ETH-USDT")
EXAMPLES = ("printer", "spread", "market_maker")
"""Example consumers started when their plugin is installed (consumer-examples)."""


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What ``tradegw demo`` was asked for."""

    duration: float | None = None
    seed: int = 7
    headless: bool = False
    config: str | None = None
    rate: float = 4.0
    """Market simulator steps per second (small, for a readable view)."""
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    venues: tuple[str, ...] = VENUES
    mm_venue: str = "binance"
    interval_s: float = 1.0
    """Seconds between headless summaries."""
    refresh_per_second: float = 4.0


@dataclass(kw_only=True)
class DemoResult:
    """What a demo run did (the CLI returns ``exit_code``; tests read the rest)."""

    exit_code: int
    venues: tuple[str, ...] = ()
    """Venues whose emulator and provider ran."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Venue -> why it was not run."""
    events_by_venue: dict[str, int] = field(default_factory=dict)
    """Market-data events the view tap received per venue."""
    books_by_venue: dict[str, int] = field(default_factory=dict)
    """Book snapshots and updates the view tap received per venue."""
    trades_by_venue: dict[str, int] = field(default_factory=dict)
    """Trades the view tap received per venue."""
    consumer_events: dict[str, int] = field(default_factory=dict)
    consumer_exec_reports: dict[str, int] = field(default_factory=dict)
    exec_states: dict[str, int] = field(default_factory=dict)
    """Execution-report states the market maker saw (plus SUPPRESSED submissions)."""


# -- provider settings per emulator -------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):
        return list(value)
    return value


def client_settings_for(emu: Emulator) -> dict[str, Any]:
    """Provider settings (plain values) pointing the venue's provider at ``emu``.

    Every venue emulator says this itself through ``Emulator.client_settings()``, so the
    demo never needs a venue's field names.
    """
    made = emu.client_settings()
    if isinstance(made, BaseModel):
        values = {name: getattr(made, name) for name in made.model_fields_set}
    else:
        values = dict(made)
    return {k: _plain(v) for k, v in values.items()}


# -- settings -------------------------------------------------------------------------------


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _example_sections(
    registries: Registries, venues: tuple[str, ...], options: DemoOptions
) -> dict[str, dict[str, Any]]:
    symbol = options.symbols[0]
    mm_venue = options.mm_venue if options.mm_venue in venues else venues[0]
    spec = default_symbol_spec(symbol)
    sections: dict[str, dict[str, Any]] = {
        "printer": {"providers": list(venues), "symbols": [symbol], "types": ["Trade"]},
        "spread": {"providers": list(venues), "symbols": list(options.symbols)},
        "market_maker": {
            "provider": mm_venue,
            "symbol": symbol,
            "qty": str(max(spec.lot, (spec.min_notional * 2 / spec.price).quantize(spec.lot))),
            "tick": str(spec.tick),
        },
    }
    return {k: v for k, v in sections.items() if k in registries.consumers}


def build_settings(
    registries: Registries,
    overrides: Mapping[str, Mapping[str, Any]],
    options: DemoOptions,
    *,
    journal_dir: Path,
    user: Mapping[str, Any] | None = None,
) -> Any:
    """The validated gateway settings of the demo.

    Demo defaults, then the user's ``--config`` data on top, then ``overrides`` (the
    emulator URLs and keys per venue), which always win. Raises ConfigError when invalid.
    """
    venues = tuple(overrides)
    examples = _example_sections(registries, venues, options)
    data: dict[str, Any] = {
        "gateway": {"providers": list(venues), "consumers": list(examples)},
        "logging": {"level": "WARNING"},
        "metrics": {"port": 0},
        "orders": {"journal_path": str(journal_dir / "demo-journal.sqlite3")},
        "consumers": examples,
    }
    data = _merge(data, dict(user or {}))
    data.pop("plugins", None)
    providers = dict(data.get("providers") or {})
    for venue, values in overrides.items():
        providers[venue] = _merge(dict(providers.get(venue) or {}), values)
    data["providers"] = providers
    model = compose_from_registries(registries)
    return validate_section(model, data)


def with_consumer(registries: Registries, name: str, consumer: Any) -> Registries:
    """A frozen copy of ``registries`` with ``consumer`` (an instance) added under ``name``."""
    copy = Registries()
    for source, target in zip(registries.all(), copy.all(), strict=True):
        for item_name, item in source.items():
            target.add(item_name, item, plugin_id=source.owner(item_name))
    copy.consumers.add(name, lambda _settings: consumer, plugin_id="demo")
    copy.freeze()
    return copy


# -- the run ----------------------------------------------------------------------------------


async def _start_emulators(
    tg: anyio.abc.TaskGroup,
    registries: Registries,
    options: DemoOptions,
    venues: tuple[str, ...],
    sim: MarketSimulator,
    skipped: dict[str, str],
) -> dict[str, Emulator]:
    started: dict[str, Emulator] = {}
    for venue in venues:
        if venue not in registries.emulators or venue not in registries.providers:
            skipped[venue] = f"plugin tradegw-{venue} is not installed (no emulator/provider)"
            continue
        config = EmulatorConfig(
            venue=venue,
            symbols=options.symbols,
            seed=options.seed,
            rate=options.rate,
            simulator=sim,
        )
        try:
            emu = registries.emulators.get(venue)(config)
            started[venue] = await tg.start(emu.serve)
        except Exception as exc:
            skipped[venue] = f"emulator failed to start: {type(exc).__name__}: {exc}"
    return started


def _start_exporter(metrics: Metrics, settings: Any, err: TextIO) -> MetricsExporter | None:
    """The metrics endpoint; a busy configured port falls back to a free one (said on err)."""
    if not settings.metrics.enabled:
        return None
    host, port = settings.metrics.host, settings.metrics.port
    try:
        return MetricsExporter(metrics, host, port).start()
    except OSError as exc:
        print(f"tradegw demo: metrics port {port} unavailable ({exc}); using a free one", file=err)
        return MetricsExporter(metrics, host, 0).start()


def _hints(settings: Any, exporter: MetricsExporter | None) -> list[str]:
    hints = []
    if exporter is not None:
        hints.append(f"metrics: http://{exporter.host}:{exporter.port}/metrics")
    else:
        hints.append("metrics: off ([metrics] enabled = false)")
    api = settings.api
    if api.enabled:
        hints.append(f"control API: http://{api.host}:{api.port} (bearer token from [api])")
    else:
        hints.append("control API: off (set [api] enabled = true and a token in --config)")
    hints.append("Ctrl-C stops cleanly; the trading switch is SetTradingMode on the control bus")
    return hints


async def run_demo(
    options: DemoOptions,
    registries: Registries,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    started: Callable[[Gateway], None] | None = None,
) -> DemoResult:
    """Run the whole demo; returns when the duration ends or on SIGINT/SIGTERM."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    user = read_raw_config(options.config).data if options.config else {}
    wanted = tuple((user.get("gateway") or {}).get("providers") or options.venues)
    skipped: dict[str, str] = {}
    specs = [default_symbol_spec(s) for s in options.symbols]
    sim = MarketSimulator(specs, seed=options.seed, rate=options.rate)
    with tempfile.TemporaryDirectory(prefix="tradegw-demo-") as tmp:
        async with anyio.create_task_group() as tg:
            emulators = await _start_emulators(tg, registries, options, wanted, sim, skipped)
            for venue, why in skipped.items():
                print(f"tradegw demo: skipping {venue}: {why}", file=err, flush=True)
            if not emulators:
                print("tradegw demo: no venue could be started; nothing to show", file=err)
                tg.cancel_scope.cancel()
                return DemoResult(exit_code=1, skipped=skipped)
            tg.start_soon(sim.run)
            overrides = {v: client_settings_for(e) for v, e in emulators.items()}
            settings = build_settings(
                registries, overrides, options, journal_dir=Path(tmp), user=user
            )
            venues = tuple(settings.gateway.providers)
            tap = DemoTap(venues, options.symbols)
            regs = with_consumer(registries, TAP_CONSUMER, tap)
            settings = settings.model_copy(
                update={
                    "gateway": settings.gateway.model_copy(
                        update={"consumers": (*settings.gateway.consumers, TAP_CONSUMER)}
                    )
                }
            )
            metrics = Metrics()
            exporter = _start_exporter(metrics, settings, err)
            try:
                monitor = Monitor(tap, hints=_hints(settings, exporter), skipped=skipped)
                finished = anyio.Event()

                def on_started(gateway: Gateway) -> None:
                    monitor.attach(gateway)
                    if started is not None:
                        started(gateway)

                tg.start_soon(show, monitor, options, out, finished)
                code = await run_gateway(
                    settings, regs, duration=options.duration, started=on_started, metrics=metrics
                )
                finished.set()
                await monitor.shown.wait()
            finally:
                if exporter is not None:
                    exporter.close()
            tg.cancel_scope.cancel()
    return DemoResult(
        exit_code=code,
        venues=venues,
        skipped=skipped,
        events_by_venue=tap.events_by_venue(),
        books_by_venue=tap.books_by_venue(),
        trades_by_venue=tap.trades_by_venue(),
        consumer_events=monitor.final.consumer_events,
        consumer_exec_reports=monitor.final.consumer_exec_reports,
        exec_states=monitor.final.exec_states,
    )

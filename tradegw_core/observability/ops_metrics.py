"""Operator metrics: labelled counters and state gauges an alert can rely on.

Two parts, both on the gateway's own :class:`~tradegw_core.observability.metrics.Metrics`:

- :class:`TelemetryMetrics` turns the telemetry events an operator alerts on into labelled
  series (the telemetry bus calls it for every event; it ignores the rest):

  ================================  =============================================================
  ``book.resync``                   ``tradegw_book_resyncs_total{provider,reason,symbol}``
  ``checksum.failed``               ``tradegw_book_checksum_failures_total{provider,symbol}``
  ``ws.connected``                  ``tradegw_ws_connected{connection}`` = 1, ``tradegw_ws_stale``
                                    = 0, reconnect counters of the connection created at 0
  ``ws.reconnect``                  ``tradegw_ws_reconnects_total{connection,reason}``,
                                    ``tradegw_ws_connected`` = 0
  ``ws.stale``                      ``tradegw_ws_stale{connection}`` = 1 (until it reconnects)
  ================================  =============================================================

  A ``connection`` is one WebSocket client, named by its provider (``coinbase-md0``,
  ``kraken-md1``, ``binance``...). Label values are bounded by the facade's ``max_series``.

- :class:`GatewayMetrics` primes, at start-up, every counter for every label set known then
  (so ``rate()`` sees 0, not "no data") and publishes the trading switches as gauges
  (``tradegw_trading_global_enabled``, ``tradegw_trading_consumer_enabled{consumer}`` for
  each consumer's own switch, ``tradegw_trading_enabled{consumer}`` for the effective state).
  The gateway calls :meth:`GatewayMetrics.export` at start and from its flush tick (about once
  a second).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tradegw_core.contracts import ResyncReason
from tradegw_core.observability.metrics import Metrics
from tradegw_core.observability.rejects import METRIC as REJECTED_METRIC
from tradegw_core.observability.rejects import REASONS
from tradegw_core.schema.events import ExecState
from tradegw_core.schema.orders import OrderStatus

if TYPE_CHECKING:
    from tradegw_core.gateway import Gateway

__all__ = ["SERIES", "GatewayMetrics", "TelemetryMetrics"]

RESYNCS = "tradegw_book_resyncs_total"
CHECKSUMS = "tradegw_book_checksum_failures_total"
RECONNECTS = "tradegw_ws_reconnects_total"
CONNECTED = "tradegw_ws_connected"
STALE = "tradegw_ws_stale"
RECONNECT_REASONS = ("closed", "stale")

SERIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    RESYNCS: (
        "counter",
        "Book resyncs by provider, symbol and reason",
        ("provider", "reason", "symbol"),
    ),
    CHECKSUMS: (
        "counter",
        "Book checksum mismatches (each resyncs the book)",
        ("provider", "symbol"),
    ),
    RECONNECTS: (
        "counter",
        "WebSocket reconnects by connection and reason",
        ("connection", "reason"),
    ),
    CONNECTED: (
        "gauge",
        "1 while the WebSocket connection is up, 0 while it reconnects",
        ("connection",),
    ),
    STALE: (
        "gauge",
        "1 when the connection went silent past its stale limit, until it is back",
        ("connection",),
    ),
    REJECTED_METRIC: (
        "counter",
        "Venue frames rejected, by provider and reason",
        ("provider", "reason"),
    ),
    "tradegw_trading_global_enabled": (
        "gauge",
        "1 while the global kill switch lets orders out",
        (),
    ),
    "tradegw_trading_consumer_enabled": (
        "gauge",
        "The consumer's own trading switch (1 = on)",
        ("consumer",),
    ),
    "tradegw_trading_enabled": (
        "gauge",
        "1 while the consumer may send orders (own switch and kill switch)",
        ("consumer",),
    ),
}
"""Every series defined here: name -> (kind, help, label names)."""


def declare(metrics: Metrics) -> None:
    """Create the families with their help texts (before anything increments them)."""
    for name, (kind, doc, labels) in SERIES.items():
        if kind == "counter":
            metrics.counter(name, doc, labels)
        else:
            metrics.gauge(name, doc, labels)


class TelemetryMetrics:
    """Labelled series from telemetry events (see the module docstring for the mapping)."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        declare(metrics)

    def on_event(self, name: str, labels: Mapping[str, str]) -> None:
        """Count or set what ``name`` means; other events are ignored."""
        m = self._metrics
        if name == "book.resync":
            m.inc(
                RESYNCS,
                provider=labels.get("provider", ""),
                reason=labels.get("reason", ""),
                symbol=labels.get("symbol", ""),
            )
        elif name == "checksum.failed":
            m.inc(CHECKSUMS, provider=labels.get("provider", ""), symbol=labels.get("symbol", ""))
        elif name == "ws.connected":
            conn = labels.get("provider", "")
            for reason in RECONNECT_REASONS:
                m.inc(RECONNECTS, 0, connection=conn, reason=reason)
            m.set(CONNECTED, 1, connection=conn)
            m.set(STALE, 0, connection=conn)
        elif name == "ws.reconnect":
            conn = labels.get("provider", "")
            m.inc(RECONNECTS, connection=conn, reason=labels.get("reason", ""))
            m.set(CONNECTED, 0, connection=conn)
        elif name == "ws.stale":
            m.set(STALE, 1, connection=labels.get("provider", ""))


def _symbols(settings: Any) -> Iterable[str]:
    symbols = getattr(settings, "symbols", None)
    if symbols is None and isinstance(settings, Mapping):
        symbols = settings.get("symbols")
    return [str(s) for s in symbols or ()]


class GatewayMetrics:
    """Primes the gateway's counters at 0 and publishes the trading switches."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self._m = gateway.metrics
        self._primed = False
        declare(self._m)

    def _prime(self) -> None:
        gw, m = self._gw, self._m
        for provider, ctx in gw.provider_contexts.items():
            for reason in REASONS:
                m.inc(REJECTED_METRIC, 0, provider=provider, reason=reason)
            for symbol in _symbols(getattr(ctx, "settings", None)):
                m.inc(CHECKSUMS, 0, provider=provider, symbol=symbol)
                for why in ResyncReason:
                    m.inc(RESYNCS, 0, provider=provider, reason=str(why), symbol=symbol)
        self._prime_orders()
        self._primed = True

    def _prime_orders(self) -> None:
        service = self._gw.orders.service
        metrics = getattr(service, "metrics", None)
        if metrics is None:
            return
        for provider in self._gw.orders.supervisors:
            for state in ExecState:
                metrics.states.labels(provider, str(state))
            for status in OrderStatus:
                metrics.submitted.labels(provider, str(status))
            metrics.invalid_transitions.labels(provider)
        for consumer in self._gw.consumers:
            metrics.suppressed.labels(consumer)
            metrics.duplicates.labels(consumer)

    def export(self) -> None:
        """Prime once, then publish the switches' current state."""
        if not self._primed:
            self._prime()
        switch = getattr(self._gw.orders.service, "switch", None)
        if switch is None:
            return
        m = self._m
        m.set("tradegw_trading_global_enabled", int(switch.global_enabled))
        for consumer in self._gw.consumers:
            m.set(
                "tradegw_trading_consumer_enabled",
                int(switch.own_enabled(consumer)),
                consumer=consumer,
            )
            m.set("tradegw_trading_enabled", int(switch.is_enabled(consumer)), consumer=consumer)

"""The metrics facade: Prometheus metrics on one gateway's own registry (never the global one).

Metrics are created on first use with the label names of that first use; later uses must
agree. Label values are bounded: past ``max_series`` distinct label sets per metric, new
sets are folded into one ``_other_`` series and counted in
``tradegw_metrics_series_overflow_total{metric}``, so a bad label (an order id, a price)
cannot grow memory without bound. Names follow ``tradegw_<component>_<what>_<unit>``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = ["LATENCY_BUCKETS_S", "Metrics", "MetricsExporter", "start_exporter"]

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Default histogram buckets in seconds: 50 us .. 2.5 s (event latency is sub-ms)."""

OTHER = "_other_"
_OVERFLOW = "tradegw_metrics_series_overflow_total"

_Metric = Counter | Gauge | Histogram


class _Family:
    __slots__ = ("kind", "labelnames", "metric", "series")

    def __init__(self, kind: str, metric: _Metric, labelnames: tuple[str, ...]) -> None:
        self.kind = kind
        self.metric = metric
        self.labelnames = labelnames
        self.series: set[tuple[str, ...]] = set()


class Metrics:
    """Counters, gauges and histograms of one gateway, created on demand."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, max_series: int = 1000
    ) -> None:
        if max_series < 1:
            raise ValueError("max_series must be at least 1")
        self.registry = registry if registry is not None else CollectorRegistry()
        self.max_series = max_series
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def _family(
        self,
        kind: str,
        name: str,
        doc: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] | None = None,
    ) -> _Family:
        names = tuple(labelnames)
        family = self._families.get(name)
        if family is None:
            with self._lock:
                family = self._families.get(name)
                if family is None:
                    text = doc or name.replace("_", " ")
                    metric: _Metric
                    if kind == "counter":
                        metric = Counter(name, text, names, registry=self.registry)
                    elif kind == "gauge":
                        metric = Gauge(name, text, names, registry=self.registry)
                    else:
                        metric = Histogram(
                            name,
                            text,
                            names,
                            registry=self.registry,
                            buckets=tuple(buckets or LATENCY_BUCKETS_S),
                        )
                    family = _Family(kind, metric, names)
                    self._families[name] = family
        if family.kind != kind or family.labelnames != names:
            raise ValueError(
                f"metric {name!r} exists as a {family.kind} with labels {family.labelnames}; "
                f"asked for a {kind} with labels {names}"
            )
        return family

    def _child(self, family: _Family, name: str, labels: dict[str, Any]) -> Any:
        if not family.labelnames:
            return family.metric
        values = tuple(str(labels[n]) for n in family.labelnames)
        if values not in family.series:
            if len(family.series) >= self.max_series:
                values = (OTHER,) * len(values)
                if name != _OVERFLOW:
                    self.inc(_OVERFLOW, metric=name)
            family.series.add(values)
        return family.metric.labels(*values)

    def counter(self, name: str, doc: str = "", labelnames: Sequence[str] = ()) -> Counter:
        """The counter ``name`` (created on first use)."""
        metric = self._family("counter", name, doc, labelnames).metric
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, doc: str = "", labelnames: Sequence[str] = ()) -> Gauge:
        """The gauge ``name`` (created on first use)."""
        metric = self._family("gauge", name, doc, labelnames).metric
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self,
        name: str,
        doc: str = "",
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] | None = None,
    ) -> Histogram:
        """The histogram ``name`` (created on first use; seconds buckets by default)."""
        metric = self._family("histogram", name, doc, labelnames, buckets).metric
        assert isinstance(metric, Histogram)
        return metric

    def inc(self, name: str, amount: float = 1.0, /, **labels: Any) -> None:
        """Add ``amount`` to counter ``name`` for ``labels`` (label names sorted)."""
        family = self._family("counter", name, "", sorted(labels))
        self._child(family, name, labels).inc(amount)

    def set(self, name: str, value: float, /, **labels: Any) -> None:
        """Set gauge ``name`` for ``labels``."""
        family = self._family("gauge", name, "", sorted(labels))
        self._child(family, name, labels).set(value)

    def add(self, name: str, amount: float, /, **labels: Any) -> None:
        """Add ``amount`` (may be negative) to gauge ``name`` for ``labels``."""
        family = self._family("gauge", name, "", sorted(labels))
        self._child(family, name, labels).inc(amount)

    def observe(self, name: str, value: float, /, **labels: Any) -> None:
        """Record ``value`` in histogram ``name`` for ``labels``."""
        family = self._family("histogram", name, "", sorted(labels))
        self._child(family, name, labels).observe(value)

    def value(self, name: str, /, **labels: Any) -> float | None:
        """The current sample value (counters by name with or without ``_total``)."""
        family = self._families.get(name)
        sample = name
        if family is not None and family.kind == "counter" and not name.endswith("_total"):
            sample = name + "_total"
        elif family is not None and family.kind == "histogram":
            sample = name + "_count"
        return self.registry.get_sample_value(sample, {k: str(v) for k, v in labels.items()})

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)


class MetricsExporter:
    """The HTTP exporter of one registry, served from a thread it owns; a context manager."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9090) -> None:
        self._metrics = metrics
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsExporter:
        """Bind and serve; ``port`` is updated to the bound port (useful with port 0)."""
        if self._server is None:
            server, thread = start_http_server(
                self.port, addr=self.host, registry=self._metrics.registry
            )
            self._server, self._thread = server, thread
            self.port = int(server.server_port)
        return self

    def close(self) -> None:
        """Stop serving and join the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_exporter(metrics: Metrics, host: str = "127.0.0.1", port: int = 9090) -> MetricsExporter:
    """Start serving ``metrics`` on ``host:port``; close the result (or use ``with``)."""
    return MetricsExporter(metrics, host, port).start()

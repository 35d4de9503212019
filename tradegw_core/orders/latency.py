"""Order round-trip histograms: submit -> the venue's ACK and submit -> the first fill.

Observed by the order state tracker for orders this process sent (restored orders carry no
submit time). Labelled by provider only, so the series stay bounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["ORDER_LATENCY_BUCKETS_S", "OrderLatency"]

ORDER_LATENCY_BUCKETS_S: tuple[float, ...] = (
    *(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
"""Seconds: a venue ACK takes milliseconds; a resting order's first fill may take minutes."""


class OrderLatency:
    """The two histograms, on the order path's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ack = Histogram(
            "tradegw_orders_ack_latency_seconds",
            "Submit -> the venue's first acknowledgement, for orders sent by this process",
            ["provider"],
            registry=registry,
            buckets=ORDER_LATENCY_BUCKETS_S,
        )
        self.first_fill = Histogram(
            "tradegw_orders_first_fill_latency_seconds",
            "Submit -> the order's first fill, for orders sent by this process",
            ["provider"],
            registry=registry,
            buckets=ORDER_LATENCY_BUCKETS_S,
        )

    def observe(self, provider: str, seconds: float, *, ack: bool, first_fill: bool) -> None:
        """Record one report's latencies (``ack``: it is the first accepted report;
        ``first_fill``: it carries the order's first fill)."""
        if ack:
            self.ack.labels(provider).observe(seconds)
        if first_fill:
            self.first_fill.labels(provider).observe(seconds)

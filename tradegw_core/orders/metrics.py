"""The order path's Prometheus metrics, on a registry the gateway owns (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["OrderMetrics"]


class OrderMetrics:
    """Counters of the order path; labels are bounded (providers, consumers, states, checks)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.submitted = Counter(
            "tradegw_orders_submitted",
            "Order submissions by immediate result",
            ["provider", "status"],
            registry=self.registry,
        )
        self.suppressed = Counter(
            "tradegw_orders_suppressed",
            "Orders suppressed locally because trading was switched off",
            ["consumer"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "tradegw_orders_duplicate",
            "Submissions refused as a repeated client_order_id",
            ["consumer"],
            registry=self.registry,
        )
        self.risk_rejected = Counter(
            "tradegw_orders_risk_rejected",
            "Orders refused by a pre-trade risk check",
            ["check"],
            registry=self.registry,
        )
        self.states = Counter(
            "tradegw_orders_state",
            "Execution reports accepted, by canonical state",
            ["provider", "state"],
            registry=self.registry,
        )
        self.invalid_transitions = Counter(
            "tradegw_orders_invalid_transitions",
            "Execution reports refused as impossible transitions",
            ["provider"],
            registry=self.registry,
        )
        self.duplicate_reports = Counter(
            "tradegw_orders_duplicate_reports",
            "Execution reports dropped as exact repeats",
            ["provider"],
            registry=self.registry,
        )
        self.journal_ok = Gauge(
            "tradegw_orders_journal_ok",
            "1 while the order journal file in use is in place, 0 once it was deleted or replaced",
            registry=self.registry,
        )
        self.journal_ok.set(1)
        self.stale_reports = Counter(
            "tradegw_orders_stale_reports",
            "Acknowledgements dropped because a later report had already arrived",
            ["provider"],
            registry=self.registry,
        )
        self.report_over_capacity = Counter(
            "tradegw_orders_report_over_capacity",
            "Execution reports queued beyond orders.report_buffer (queued, never dropped)",
            ["provider"],
            registry=self.registry,
        )

"""The order path's settings, normalised from whatever object the config model provides.

The gateway's config model has an ``orders`` section (``tradegw_core.config.models``); this
module reads it attribute by attribute so the order path does not depend on that model, and
fills the knobs the section does not (yet) carry with the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["OrderPathSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPathSettings:
    """Every knob of the order path, with its default.

    ``trading_enabled_on_start`` is the global kill switch at start-up: on by default, so
    a configured strategy trades as configured; an operator who wants a manual go-ahead sets
    it to false and sends SetTradingMode (consumer_id null). Every consumer's own switch
    starts on either way, so that one go restores each consumer's own switch.
    """

    journal_path: Path = Path("tradegw-journal.sqlite3")
    dedup_retention_s: float = 3600.0
    risk_checks: tuple[str, ...] = ("max_notional", "max_open_orders", "price_band")
    max_notional: Decimal | None = None
    max_open_orders: int = 50
    price_band_pct: Decimal = Decimal(5)
    submit_timeout_s: float = 10.0
    trading_enabled_on_start: bool = True
    query_attempts: int = 5
    """How many times an order of unknown outcome is queried before giving up for now."""
    query_backoff_s: float = 0.5
    """First wait before querying an unknown outcome; doubles per attempt."""
    query_backoff_max_s: float = 8.0
    report_buffer: int = 65_536
    """Execution reports waiting to be journaled and delivered before the backlog is reported
    (overflow policy: queue and count, ``order.report_backlog`` telemetry; never refused)."""
    purge_interval_s: float = 60.0
    reconcile_concurrency: int = 8
    reconcile_wait_s: float = 15.0
    """How long start-up waits for reconciliation before going on without it."""

    @classmethod
    def from_settings(cls, obj: Any = None, **overrides: Any) -> OrderPathSettings:
        """Build from any object (or mapping) carrying some of these names; rest default."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if isinstance(obj, dict):
                if f.name in obj:
                    values[f.name] = obj[f.name]
            elif obj is not None and hasattr(obj, f.name):
                values[f.name] = getattr(obj, f.name)
        values.update(overrides)
        if "journal_path" in values:
            values["journal_path"] = Path(values["journal_path"])
        if "risk_checks" in values:
            values["risk_checks"] = tuple(values["risk_checks"])
        if values.get("max_notional") is not None:
            values["max_notional"] = Decimal(str(values["max_notional"]))
        if "price_band_pct" in values:
            values["price_band_pct"] = Decimal(str(values["price_band_pct"]))
        return cls(**values)

"""The order path: trading switch, order handler, risk checks, state tracking (design §8)."""

from __future__ import annotations

from tradegw_core.orders.handler import LastTradePrice, NullTelemetry, OrderService
from tradegw_core.orders.metrics import OrderMetrics
from tradegw_core.orders.reports import DeliverFn, ReportPipeline
from tradegw_core.orders.risk import (
    BUILTIN_RISK_CHECKS,
    MaxNotional,
    MaxOpenOrders,
    PriceBand,
    RiskCheck,
    RiskCheckFactory,
    RiskContext,
    build_risk_checks,
)
from tradegw_core.orders.settings import OrderPathSettings
from tradegw_core.orders.state import (
    OpenOrder,
    OrderStateTracker,
    TrackedOrder,
    Verdict,
    check_transition,
)
from tradegw_core.orders.switch import TradingSwitch

__all__ = [
    "BUILTIN_RISK_CHECKS",
    "DeliverFn",
    "LastTradePrice",
    "MaxNotional",
    "MaxOpenOrders",
    "NullTelemetry",
    "OpenOrder",
    "OrderMetrics",
    "OrderPathSettings",
    "OrderService",
    "OrderStateTracker",
    "PriceBand",
    "ReportPipeline",
    "RiskCheck",
    "RiskCheckFactory",
    "RiskContext",
    "TrackedOrder",
    "TradingSwitch",
    "Verdict",
    "build_risk_checks",
    "check_transition",
]

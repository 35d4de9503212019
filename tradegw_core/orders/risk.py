"""Pre-trade risk checks: a small protocol, three built-ins, and the config-ordered chain.

A check is a synchronous, side-effect-free object: it sees the order and a
:class:`RiskContext` and returns None (pass) or a sentence saying why it refuses. Plugins add
checks by registering a *factory* (``Callable[[OrderPathSettings], RiskCheck]``) under a
name in ``registries.risk_checks`` from ``tradegw_register_risk_checks``; the order in which
checks run comes only from ``orders.risk_checks`` in the config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from tradegw_core.errors import ConfigError
from tradegw_core.orders.settings import OrderPathSettings
from tradegw_core.schema.orders import OrderRequest
from tradegw_core.schema.symbols import Instrument

__all__ = [
    "BUILTIN_RISK_CHECKS",
    "MaxNotional",
    "MaxOpenOrders",
    "PriceBand",
    "RiskCheck",
    "RiskCheckFactory",
    "RiskContext",
    "build_risk_checks",
    "run_risk_checks",
]


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What a check may look at besides the order itself."""

    instrument: Instrument
    open_orders: int
    """The consumer's orders that are open or in flight, not counting this one."""
    last_trade_price: Decimal | None
    """The last trade on the order's provider and symbol, None when none was seen."""


class RiskCheck(Protocol):
    """One pre-trade check."""

    @property
    def name(self) -> str:
        """The name the config lists it under."""
        ...

    def check(self, order: OrderRequest, ctx: RiskContext) -> str | None:
        """None to let the order through, or why it is refused (a clear sentence)."""
        ...


RiskCheckFactory = Callable[[OrderPathSettings], RiskCheck]
"""What plugins register in ``registries.risk_checks``."""


def _reference_price(order: OrderRequest, ctx: RiskContext) -> Decimal | None:
    return order.price if order.price is not None else ctx.last_trade_price


class MaxNotional:
    """Refuse an order whose qty * price exceeds ``limit`` (quote currency).

    A market order is valued at the last trade; without one it is refused, since its size
    cannot be bounded.
    """

    name = "max_notional"

    def __init__(self, limit: Decimal | None) -> None:
        self.limit = limit

    def check(self, order: OrderRequest, ctx: RiskContext) -> str | None:
        """Compare the order's notional with the limit (no limit: always passes)."""
        if self.limit is None:
            return None
        price = _reference_price(order, ctx)
        if price is None:
            return (
                f"cannot value the market order against max_notional={self.limit}: no trade "
                f"seen yet on {order.provider} {order.symbol}; send a limit order"
            )
        notional = order.qty * price
        if notional > self.limit:
            step = ctx.instrument.qty_step or Decimal("1e-8")
            most = (self.limit / price).quantize(step, rounding=ROUND_DOWN)
            return (
                f"order notional {notional} {ctx.instrument.quote} exceeds max_notional "
                f"{self.limit}; reduce qty to at most {most}"
            )
        return None


class MaxOpenOrders:
    """Refuse a new order when the consumer already has ``limit`` orders open."""

    name = "max_open_orders"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, order: OrderRequest, ctx: RiskContext) -> str | None:
        """Count the consumer's open and in-flight orders."""
        if ctx.open_orders >= self.limit:
            return (
                f"consumer {order.consumer_id!r} has {ctx.open_orders} open orders "
                f"(max_open_orders={self.limit}); cancel some first"
            )
        return None


class PriceBand:
    """Refuse a limit order priced more than ``pct`` percent away from the last trade.

    Passes when no trade was seen yet (the consumer may not subscribe to trades) and for
    market orders, which carry no price.
    """

    name = "price_band"

    def __init__(self, pct: Decimal) -> None:
        self.pct = pct

    def check(self, order: OrderRequest, ctx: RiskContext) -> str | None:
        """Compare the limit price with the band around the last trade."""
        last = ctx.last_trade_price
        if order.price is None or last is None or last <= 0:
            return None
        away = abs(order.price - last) / last * 100
        if away > self.pct:
            low = last * (1 - self.pct / 100)
            high = last * (1 + self.pct / 100)
            return (
                f"price {order.price} is {away:.2f}% away from the last trade {last}; "
                f"price_band_pct={self.pct} allows {low:f} .. {high:f}"
            )
        return None


BUILTIN_RISK_CHECKS: Mapping[str, RiskCheckFactory] = {
    "max_notional": lambda s: MaxNotional(s.max_notional),
    "max_open_orders": lambda s: MaxOpenOrders(s.max_open_orders),
    "price_band": lambda s: PriceBand(s.price_band_pct),
}


def build_risk_checks(settings: OrderPathSettings, registry: Any | None = None) -> list[RiskCheck]:
    """Instantiate the checks ``settings.risk_checks`` names, in that order.

    ``registry`` is ``registries.risk_checks`` (name -> factory). A name both built in and
    registered by a plugin, or a name nobody provides, is a ConfigError.
    """
    checks: list[RiskCheck] = []
    for name in settings.risk_checks:
        in_registry = registry is not None and name in registry
        if in_registry and name in BUILTIN_RISK_CHECKS:
            assert registry is not None
            raise ConfigError(
                f"orders.risk_checks: {name!r} is built in and also registered by plugin "
                f"{registry.owner(name)!r}; rename the plugin's check"
            )
        if in_registry:
            assert registry is not None
            factory: RiskCheckFactory = registry.get(name)
        elif name in BUILTIN_RISK_CHECKS:
            factory = BUILTIN_RISK_CHECKS[name]
        else:
            known = sorted({*BUILTIN_RISK_CHECKS, *(registry or ())})
            raise ConfigError(
                f"orders.risk_checks: unknown check {name!r} (available: {', '.join(known)})"
            )
        checks.append(factory(settings))
    return checks


def run_risk_checks(
    checks: Sequence[RiskCheck], order: OrderRequest, ctx: RiskContext
) -> tuple[str, str] | None:
    """Run ``checks`` in order; the first refusal as (check name, sentence), else None."""
    for check in checks:
        why = check.check(order, ctx)
        if why is not None:
            return check.name, why
    return None

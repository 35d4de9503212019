"""Value types of the market simulator: symbol specs, venue profiles and market events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from tradegw_core.schema.events import Side
from tradegw_core.schema.symbols import split_symbol

__all__ = [
    "BookDelta",
    "BookSnapshot",
    "LevelChange",
    "MarketEvent",
    "MarketListener",
    "SimTrade",
    "SymbolSpec",
    "VenueProfile",
    "default_symbol_spec",
]


@dataclass(frozen=True)
class SymbolSpec:
    """A canonical symbol as the simulator and the matching engines see it."""

    symbol: str
    price: Decimal
    tick: Decimal
    lot: Decimal
    min_notional: Decimal = Decimal(0)
    vol_ticks: int = 3
    max_level_qty: Decimal = Decimal(1)

    @property
    def max_level_lots(self) -> int:
        """Largest simulated level size, in lots."""
        return max(1, int(self.max_level_qty / self.lot))

    @property
    def base(self) -> str:
        """Base asset (``BTC`` for ``BTC-USDT``)."""
        return split_symbol(self.symbol)[0]

    @property
    def quote(self) -> str:
        """Quote asset (``USDT`` for ``BTC-USDT``)."""
        return split_symbol(self.symbol)[1]


_KNOWN: dict[str, tuple[str, str, str, str, str]] = {
    # base: (start price, tick, lot, min notional, max level qty)
    "BTC": ("60000.00", "0.01", "0.00001", "5", "2"),
    "ETH": ("3000.00", "0.01", "0.0001", "5", "40"),
    "SOL": ("150.00", "0.01", "0.001", "5", "500"),
}


def default_symbol_spec(symbol: str) -> SymbolSpec:
    """A plausible spec for ``symbol`` (BTC, ETH and SOL are known; others start at 100)."""
    base, _ = split_symbol(symbol)
    price, tick, lot, notional, level = _KNOWN.get(base, ("100.00", "0.01", "0.001", "1", "500"))
    return SymbolSpec(
        symbol, Decimal(price), Decimal(tick), Decimal(lot), Decimal(notional), 3, Decimal(level)
    )


@dataclass(frozen=True)
class VenueProfile:
    """How one venue's book looks around the shared mid (all sizes in ticks and lots)."""

    name: str
    spread_ticks: int = 2
    noise_ticks: int = 1
    latency_ms: int = 0
    depth: int = 20
    trade_prob: float = 0.3
    jitter_ticks: int | None = None
    """Resize levels only this close to the centre (None: anywhere within ``depth``)."""


class LevelChange(NamedTuple):
    """One price level's new absolute quantity; ``qty == 0`` removes the level.

    A NamedTuple (not a dataclass) because the simulator makes hundreds of thousands a second.
    """

    side: Side
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class BookDelta:
    """Level changes of one venue book; ``seq`` counts per (venue, symbol) from 1."""

    venue: str
    symbol: str
    seq: int
    step: int
    ts_ns: int
    changes: tuple[LevelChange, ...]


@dataclass(frozen=True, slots=True)
class SimTrade:
    """A public trade; ``origin`` is ``market`` (simulated) or ``user`` (a matched order)."""

    venue: str
    symbol: str
    trade_id: int
    step: int
    ts_ns: int
    price: Decimal
    qty: Decimal
    aggressor: Side
    origin: str = "market"


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A venue book at ``seq``: levels best first as (price, qty)."""

    venue: str
    symbol: str
    seq: int
    ts_ns: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


MarketEvent = BookDelta | SimTrade
MarketListener = Callable[[MarketEvent], None]

"""Canonical symbols (``BASE-QUOTE``, upper case) and instrument metadata."""

from __future__ import annotations

from decimal import Decimal
from typing import NewType, Protocol

import msgspec

from tradegw_core.errors import SchemaError

__all__ = ["Instrument", "Symbol", "SymbolMapper", "canonical_symbol", "split_symbol"]

Symbol = NewType("Symbol", str)
"""A canonical symbol such as ``BTC-USDT``."""


def canonical_symbol(base: str, quote: str) -> Symbol:
    """Build the canonical symbol from base and quote assets (``btc``, ``usdt`` -> ``BTC-USDT``)."""
    base_u, quote_u = base.strip().upper(), quote.strip().upper()
    if not base_u or not quote_u or "-" in base_u or "-" in quote_u:
        raise SchemaError(f"cannot build a canonical symbol from base={base!r} quote={quote!r}")
    return Symbol(f"{base_u}-{quote_u}")


def split_symbol(symbol: str) -> tuple[str, str]:
    """Split a canonical symbol into (base, quote); raise SchemaError when it is not one."""
    parts = symbol.split("-")
    if len(parts) != 2 or not all(parts) or symbol != symbol.upper():
        raise SchemaError(
            f"{symbol!r} is not a canonical symbol (expected BASE-QUOTE, e.g. BTC-USDT)"
        )
    return parts[0], parts[1]


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """What the order path and the book need to know about one tradable pair on one venue.

    Steps are exact: a price must be a multiple of ``price_step`` and a quantity of
    ``qty_step``. ``price_precision`` / ``qty_precision`` are the decimal places the venue
    renders (Kraken's checksum needs them).
    """

    provider: str
    symbol: Symbol
    venue_symbol: str
    base: str
    quote: str
    price_step: Decimal
    qty_step: Decimal
    min_qty: Decimal = Decimal(0)
    max_qty: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    price_precision: int = 8
    qty_precision: int = 8

    def price_on_step(self, price: Decimal) -> bool:
        """True when ``price`` is a whole multiple of the price step."""
        return self.price_step == 0 or price % self.price_step == 0

    def qty_on_step(self, qty: Decimal) -> bool:
        """True when ``qty`` is a whole multiple of the quantity step."""
        return self.qty_step == 0 or qty % self.qty_step == 0


class SymbolMapper(Protocol):
    """The venue mapping hook: each venue plugin translates between its names and ours."""

    def to_canonical(self, venue_symbol: str) -> Symbol:
        """Return the canonical symbol for a venue name; raise SchemaError if unknown."""
        ...

    def to_venue(self, symbol: Symbol) -> str:
        """Return the venue's name for a canonical symbol; raise SchemaError if unknown."""
        ...

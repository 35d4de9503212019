"""Products endpoint -> canonical instruments (protocol notes sections 3 and 6).

Coinbase product ids are already ``BASE-QUOTE`` in upper case (``BTC-USD``): the canonical
symbol is the product id. ``-USD`` and ``-USDC`` books are aliased on public channels, but
the two stay distinct canonical symbols. Futures and perpetuals are out of scope (spot only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from tradegw_coinbase.schemas import CoinbaseProductMsg
from tradegw_core.errors import SchemaError
from tradegw_core.schema.symbols import Instrument, Symbol, canonical_symbol

__all__ = ["CoinbaseSymbolMapper", "instrument_from_product", "instruments_from_products"]


def _dec(text: str, field: str, product_id: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise SchemaError(f"{product_id}: {field}={text!r} is not a decimal") from exc


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def instrument_from_product(product: CoinbaseProductMsg, provider: str = "coinbase") -> Instrument:
    """Build the canonical instrument of one spot product.

    ``price_increment`` is the price step (``quote_increment`` when absent),
    ``base_increment`` the quantity step, ``base_min_size``/``base_max_size`` the quantity
    bounds and ``quote_min_size`` the minimum notional.
    """
    pid = product.product_id
    base = product.base_currency_id or pid.split("-", 1)[0]
    quote = product.quote_currency_id or pid.rsplit("-", 1)[-1]
    symbol = canonical_symbol(base, quote)
    if symbol != pid:
        raise SchemaError(f"product {pid!r} does not match its currencies {base}/{quote}")
    price_step = _dec(product.price_increment or product.quote_increment, "price_increment", pid)
    qty_step = _dec(product.base_increment, "base_increment", pid)
    max_qty = _dec(product.base_max_size, "base_max_size", pid) if product.base_max_size else None
    return Instrument(
        provider=provider,
        symbol=symbol,
        venue_symbol=pid,
        base=base,
        quote=quote,
        price_step=price_step,
        qty_step=qty_step,
        min_qty=_dec(product.base_min_size or "0", "base_min_size", pid),
        max_qty=max_qty,
        min_notional=_dec(product.quote_min_size or "0", "quote_min_size", pid),
        price_precision=_places(price_step),
        qty_precision=_places(qty_step),
    )


def instruments_from_products(
    products: Iterable[CoinbaseProductMsg],
    *,
    provider: str = "coinbase",
    only: Iterable[str] = (),
) -> dict[Symbol, Instrument]:
    """Tradable spot instruments by symbol; ``only`` restricts to those product ids.

    Skipped: non-spot products, disabled or trading-disabled ones, and products whose
    fields do not form a canonical symbol.
    """
    wanted = set(only)
    out: dict[Symbol, Instrument] = {}
    for product in products:
        if wanted and product.product_id not in wanted:
            continue
        if product.product_type.upper() != "SPOT":
            continue
        if product.trading_disabled or product.is_disabled:
            continue
        try:
            inst = instrument_from_product(product, provider)
        except SchemaError:
            continue
        out[inst.symbol] = inst
    return out


class CoinbaseSymbolMapper:
    """Venue <-> canonical names over the loaded instruments (identity on the text)."""

    def __init__(self, instruments: Mapping[Symbol, Instrument]) -> None:
        self._by_venue = {inst.venue_symbol: inst.symbol for inst in instruments.values()}
        self._by_symbol = {inst.symbol: inst.venue_symbol for inst in instruments.values()}

    def to_canonical(self, venue_symbol: str) -> Symbol:
        """Canonical symbol for a product id; SchemaError when the product is unknown."""
        try:
            return self._by_venue[venue_symbol]
        except KeyError:
            raise SchemaError(f"unknown Coinbase product {venue_symbol!r}") from None

    def to_venue(self, symbol: Symbol) -> str:
        """Product id for a canonical symbol; SchemaError when unknown."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise SchemaError(f"{symbol!r} is not a known Coinbase product") from None

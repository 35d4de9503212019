"""Products endpoint -> instruments, on the real captured answers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from tradegw_coinbase.schemas import CoinbaseProductMsg, CoinbaseProductsMsg
from tradegw_coinbase.symbols import (
    CoinbaseSymbolMapper,
    instrument_from_product,
    instruments_from_products,
)

from tradegw_core.errors import SchemaError
from tradegw_core.schema.symbols import Symbol


def _products(coinbase_data: Path) -> CoinbaseProductsMsg:
    return msgspec.json.decode(
        (coinbase_data / "http_products.json").read_bytes(), type=CoinbaseProductsMsg
    )


def test_products_to_instruments(coinbase_data: Path) -> None:
    insts = instruments_from_products(_products(coinbase_data).products)
    assert sorted(insts) == ["BTC-USD", "BTC-USDC"]  # aliased books, distinct symbols
    btc = insts[Symbol("BTC-USD")]
    assert (btc.venue_symbol, btc.base, btc.quote) == ("BTC-USD", "BTC", "USD")
    assert btc.price_step == Decimal("0.01")
    assert btc.qty_step == Decimal("0.00000001")
    assert btc.min_qty == Decimal("0.00000001")
    assert btc.max_qty == Decimal("3400")
    assert btc.min_notional == Decimal("1")
    assert (btc.price_precision, btc.qty_precision) == (2, 8)
    assert btc.price_on_step(Decimal("68923.67"))
    assert not btc.price_on_step(Decimal("1.001"))


def test_single_product_answer(coinbase_data: Path) -> None:
    product = msgspec.json.decode(
        (coinbase_data / "http_product.json").read_bytes(), type=CoinbaseProductMsg
    )
    inst = instrument_from_product(product)
    assert inst.symbol == "BTC-USD"
    assert inst.provider == "coinbase"


def test_filters_and_mapper(coinbase_data: Path) -> None:
    products = _products(coinbase_data).products
    only = instruments_from_products(products, only=["BTC-USDC"])
    assert list(only) == ["BTC-USDC"]
    disabled = [msgspec.structs.replace(p, trading_disabled=True) for p in products]
    assert instruments_from_products(disabled) == {}
    future = [msgspec.structs.replace(products[0], product_type="FUTURE")]
    assert instruments_from_products(future) == {}
    mapper = CoinbaseSymbolMapper(instruments_from_products(products))
    assert mapper.to_canonical("BTC-USD") == "BTC-USD"
    assert mapper.to_venue(Symbol("BTC-USDC")) == "BTC-USDC"
    with pytest.raises(SchemaError, match="unknown Coinbase product"):
        mapper.to_canonical("BTC-PERP-INTX")
    with pytest.raises(SchemaError):
        mapper.to_venue(Symbol("ETH-USD"))


def test_bad_product_fields_are_schema_errors(coinbase_data: Path) -> None:
    product = _products(coinbase_data).products[0]
    with pytest.raises(SchemaError, match="base_increment"):
        instrument_from_product(msgspec.structs.replace(product, base_increment="tiny"))
    with pytest.raises(SchemaError, match="does not match"):
        instrument_from_product(msgspec.structs.replace(product, quote_currency_id="EUR"))

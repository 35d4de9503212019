"""Instruments from the real WS v2 instrument snapshot and the real REST AssetPairs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tradegw_kraken.symbols import (
    KrakenPair,
    KrakenSymbolMap,
    decode_asset_pairs,
    pairs_from_asset_pairs,
    ws_to_canonical,
    ws_v2_name,
)

from tradegw_core.errors import SchemaError


def test_names_map_to_canonical() -> None:
    assert ws_to_canonical("BTC/USD") == "BTC-USD"
    assert ws_to_canonical("XBT/USD") == "BTC-USD"
    assert ws_to_canonical("XDG/EUR") == "DOGE-EUR"
    assert ws_to_canonical("XTZ/USD") == "XTZ-USD"  # Tezos keeps its X
    assert ws_v2_name("XBT/CHF") == "BTC/CHF"
    with pytest.raises(SchemaError):
        ws_to_canonical("XBTUSD")


@pytest.mark.parametrize(
    ("symbol", "pp", "qp"),
    [
        ("BTC-USD", 1, 8),
        ("ETH-USD", 2, 8),
        ("ALGO-USD", 5, 8),
        ("MATIC-USD", 4, 8),
        ("GST-USD", 3, 8),
        ("DOGE-USD", 7, 8),
    ],
)
def test_real_instrument_snapshot_precisions(
    ws_symbols: KrakenSymbolMap, symbol: str, pp: int, qp: int
) -> None:
    inst = ws_symbols.instrument(symbol)
    assert (inst.price_precision, inst.qty_precision) == (pp, qp)
    assert inst.venue_symbol == symbol.replace("-", "/")


def test_real_instrument_snapshot_steps_and_minimums(
    instrument_pairs: list[KrakenPair], ws_symbols: KrakenSymbolMap
) -> None:
    assert len(instrument_pairs) == 683
    btc = ws_symbols.instrument("BTC-USD")
    assert btc.price_step == Decimal("0.1")
    assert btc.qty_step == Decimal("1e-8")  # exponent notation on the wire, exact here
    assert btc.min_qty == Decimal("0.0001")
    assert btc.min_notional == Decimal("0.5")
    assert btc.price_on_step(Decimal("45285.2"))
    assert not btc.price_on_step(Decimal("45285.25"))
    assert ws_symbols.to_canonical("BTC/USD") == "BTC-USD"
    assert ws_symbols.to_venue(btc.symbol) == "BTC/USD"


def _rest_map(shared_data: Path) -> KrakenSymbolMap:
    path = shared_data / "cryptofeed" / "KRAKEN.0"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    body = path.read_text().splitlines()[0].split(": ", 1)[1]
    return KrakenSymbolMap(pairs_from_asset_pairs(decode_asset_pairs(body)))


def test_real_rest_asset_pairs_map_through_wsname(shared_data: Path) -> None:
    symbols = _rest_map(shared_data)
    for name in ("XXBTZUSD", "XBTUSD", "XBT/USD", "BTC/USD"):
        assert symbols.to_canonical(name) == "BTC-USD"
    assert symbols.to_canonical("XDGUSD") == "DOGE-USD"
    assert symbols.to_canonical("XTZUSD") == "XTZ-USD"
    assert symbols.rest_name(symbols.to_canonical("XXBTZUSD")) == "XBTUSD"
    btc = symbols.instrument("BTC-USD")
    assert (btc.price_precision, btc.qty_precision) == (1, 8)
    assert btc.venue_symbol == "BTC/USD"
    assert btc.base == "BTC"
    assert btc.quote == "USD"
    assert btc.min_qty == Decimal("0.0002")  # ordermin in 2021
    with pytest.raises(SchemaError, match="unknown Kraken pair"):
        symbols.to_canonical("NOPE/USD")
    with pytest.raises(SchemaError, match="no pair"):
        symbols.instrument("NOPE-USD")


def test_nautilus_asset_pairs_format(shared_data: Path) -> None:
    path = shared_data / "nautilus" / "kraken" / "http_asset_pairs.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    (pair,) = pairs_from_asset_pairs(decode_asset_pairs(path.read_bytes()))
    assert pair.instrument.symbol == "BTC-USDT"
    assert pair.instrument.price_step == Decimal("0.1")
    assert pair.instrument.min_notional == Decimal("0.5")
    assert pair.rest_name == "XBTUSDT"


def test_asset_pairs_error_answer_is_reported() -> None:
    with pytest.raises(SchemaError, match="EQuery:Unknown asset pair"):
        decode_asset_pairs(b'{"error":["EQuery:Unknown asset pair"],"result":{}}')
    with pytest.raises(SchemaError, match="malformed"):
        decode_asset_pairs(b"<html>")


def test_pairs_with_impossible_precisions_are_skipped() -> None:
    from tradegw_kraken.symbols import decode_asset_pairs, pairs_from_asset_pairs

    body = (
        '{"error":[],"result":{'
        '"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","base":"XXBT","quote":"ZUSD",'
        '"pair_decimals":1,"lot_decimals":8},'
        '"BAD":{"altname":"BAD","wsname":"BAD/USD","base":"BAD","quote":"ZUSD",'
        '"pair_decimals":-3,"lot_decimals":8},'
        '"HUGE":{"altname":"HUGE","wsname":"HUGE/USD","base":"HUGE","quote":"ZUSD",'
        '"pair_decimals":2,"lot_decimals":400}}}'
    )
    pairs = pairs_from_asset_pairs(decode_asset_pairs(body))
    assert [p.instrument.symbol for p in pairs] == ["BTC-USD"]

"""exchangeInfo -> instruments, on real exchangeInfo captures (binance.com and binance.us)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tradegw_binance.symbols import BinanceSymbolMap, decode_exchange_info

from tradegw_core.errors import ControlError, SchemaError
from tradegw_core.schema.symbols import Symbol

D = Decimal


@pytest.fixture
def binance_map(http_capture: Callable[[str], list]) -> BinanceSymbolMap:
    (ans,) = http_capture("cryptofeed/BINANCE.0")
    return BinanceSymbolMap.from_exchange_info(ans.body, "binance")


def test_real_exchange_info_maps_by_base_and_quote_asset(binance_map: BinanceSymbolMap) -> None:
    assert len(binance_map) > 1000
    assert binance_map.to_canonical("BTCUSDT") == "BTC-USDT"
    assert binance_map.to_canonical("nknusdt") == "NKN-USDT"  # stream names are lower case
    assert binance_map.to_venue(Symbol("ETH-BTC")) == "ETHBTC"
    # Quotes stay distinct: USDT, BUSD and EUR are not USD.
    assert binance_map.to_canonical("OMGBUSD") == "OMG-BUSD"
    assert binance_map.to_canonical("RUNEEUR") == "RUNE-EUR"


def test_real_exchange_info_steps_and_min_notional(binance_map: BinanceSymbolMap) -> None:
    eth = binance_map.instrument("ETH-BTC")
    # ETHBTC in the 2021 capture: tickSize 0.000001, stepSize 0.0001, MIN_NOTIONAL 0.0001.
    assert eth.price_step == D("0.00000100")
    assert eth.qty_step == D("0.00010000")
    assert eth.min_qty == D("0.0001")
    assert eth.max_qty == D("100000")
    assert eth.min_notional == D("0.0001")
    assert (eth.price_precision, eth.qty_precision) == (6, 4)
    assert eth.price_on_step(D("0.061234"))
    assert not eth.price_on_step(D("0.0612345"))


def test_every_trading_symbol_round_trips(binance_map: BinanceSymbolMap) -> None:
    for symbol, inst in binance_map.instruments().items():
        assert binance_map.to_canonical(inst.venue_symbol) == symbol
        assert binance_map.to_venue(symbol) == inst.venue_symbol
        assert symbol == f"{inst.base}-{inst.quote}"
        assert inst.venue_symbol == inst.base + inst.quote


def test_binance_us_exchange_info(http_capture: Callable[[str], list]) -> None:
    (ans,) = http_capture("cryptofeed/BINANCE_US.0")
    smap = BinanceSymbolMap.from_exchange_info(ans.body, "binance")
    for venue in ("COMPUSDT", "OMGBUSD", "CRVUSDT", "ZRXUSDT"):
        assert "-" in smap.to_canonical(venue)


def test_unknown_symbols_fail_with_a_clear_message(binance_map: BinanceSymbolMap) -> None:
    with pytest.raises(ControlError, match=r"unknown binance symbol 'BTC-USDX'.*BTC-USDT"):
        binance_map.instrument("BTC-USDX")
    with pytest.raises(ControlError, match="did you mean 'BTC-USDT'"):
        binance_map.instrument("BTCUSDT")
    with pytest.raises(ControlError) as info:
        binance_map.resolve(["BTC-USDT", "NOPE-NOPE", "ZZZ-YYY"])
    assert "NOPE-NOPE" in str(info.value)
    assert "ZZZ-YYY" in str(info.value)
    with pytest.raises(SchemaError, match="unknown binance symbol"):
        binance_map.to_canonical("NOTASYMBOL")
    with pytest.raises(SchemaError):
        binance_map.to_venue(Symbol("NOPE-NOPE"))


def test_halted_symbols_are_not_instruments_and_say_why(
    nautilus_json: Callable[[str], dict],
) -> None:
    info = nautilus_json("http_json/exchange_info_response.json")
    info["symbols"].append(
        {**info["symbols"][0], "symbol": "LTCBTC", "baseAsset": "LTC", "status": "BREAK"}
    )
    import json

    smap = BinanceSymbolMap.from_exchange_info(json.dumps(info), "binance")
    assert "ETH-BTC" in smap
    assert "LTC-BTC" not in smap
    with pytest.raises(ControlError, match="not trading \\(status BREAK\\)"):
        smap.instrument("LTC-BTC")
    # No filters in this documented example: steps are 0 (no constraint), precision falls back.
    inst = smap.instrument("ETH-BTC")
    assert inst.price_step == 0
    assert inst.price_precision == 8


def test_malformed_exchange_info_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="exchangeInfo"):
        decode_exchange_info(b'{"symbols": 5}')

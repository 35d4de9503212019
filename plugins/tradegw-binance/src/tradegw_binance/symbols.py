"""``exchangeInfo`` -> canonical instruments, and the venue <-> canonical symbol mapping.

Binance symbols carry no separator (``BTCUSDT``), so a symbol is never split by guessing:
base and quote come from ``baseAsset`` / ``quoteAsset``. Steps come from ``PRICE_FILTER``
(``tickSize``) and ``LOT_SIZE`` (``stepSize``, ``minQty``, ``maxQty``); the minimum notional
from ``NOTIONAL`` (current) or ``MIN_NOTIONAL`` (the pre-2023 filter seen in real captures).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from tradegw_binance.schemas import BinanceExchangeInfoMsg, BinanceSymbolInfo
from tradegw_core.errors import ControlError, SchemaError
from tradegw_core.schema.symbols import Instrument, Symbol, canonical_symbol

__all__ = ["BinanceSymbolMap", "decode_exchange_info", "instrument_from_symbol_info"]

_exchange_info_decoder = msgspec.json.Decoder(BinanceExchangeInfoMsg)


def decode_exchange_info(data: bytes | str) -> BinanceExchangeInfoMsg:
    """Decode a REST ``exchangeInfo`` body; SchemaError when it does not fit."""
    try:
        return _exchange_info_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise SchemaError(f"binance exchangeInfo does not fit the expected shape: {exc}") from exc


def _dec(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None:
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise SchemaError(f"binance exchangeInfo: {value!r} is not a decimal") from exc


def _decimals(step: Decimal, fallback: int) -> int:
    """Decimal places a step implies (``0.01000000`` -> 2); ``fallback`` for a zero step."""
    if step == 0:
        return fallback
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else fallback


def instrument_from_symbol_info(info: BinanceSymbolInfo, provider_id: str) -> Instrument:
    """Build the canonical instrument of one ``exchangeInfo`` symbol."""
    filters = {f.get("filterType"): f for f in info.filters}
    price_f = filters.get("PRICE_FILTER", {})
    lot_f = filters.get("LOT_SIZE", {})
    notional_f = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    price_step = _dec(price_f.get("tickSize"))
    qty_step = _dec(lot_f.get("stepSize"))
    max_qty = _dec(lot_f["maxQty"]) if "maxQty" in lot_f else None
    quote_precision = info.quoteAssetPrecision or info.quotePrecision or 8
    return Instrument(
        provider=provider_id,
        symbol=canonical_symbol(info.baseAsset, info.quoteAsset),
        venue_symbol=info.symbol,
        base=info.baseAsset.upper(),
        quote=info.quoteAsset.upper(),
        price_step=price_step,
        qty_step=qty_step,
        min_qty=_dec(lot_f.get("minQty")),
        max_qty=max_qty,
        min_notional=_dec(notional_f.get("minNotional")),
        price_precision=_decimals(price_step, quote_precision),
        qty_precision=_decimals(qty_step, info.baseAssetPrecision),
    )


class BinanceSymbolMap:
    """Both directions of the symbol mapping plus the instruments, built from exchangeInfo.

    Only symbols whose status is ``TRADING`` become instruments; the others are remembered
    so an error can say "listed but halted" instead of "unknown".
    """

    def __init__(self, instruments: Iterable[Instrument], inactive: Mapping[str, str] = {}):
        self._by_symbol: dict[Symbol, Instrument] = {}
        self._by_venue: dict[str, Instrument] = {}
        for inst in instruments:
            self._by_symbol[inst.symbol] = inst
            self._by_venue[inst.venue_symbol] = inst
        self._inactive = dict(inactive)

    @classmethod
    def from_exchange_info(
        cls, info: BinanceExchangeInfoMsg | bytes | str, provider_id: str
    ) -> BinanceSymbolMap:
        """Map every ``TRADING`` symbol of an exchangeInfo answer (raw JSON or decoded)."""
        msg = info if isinstance(info, BinanceExchangeInfoMsg) else decode_exchange_info(info)
        instruments: list[Instrument] = []
        inactive: dict[str, str] = {}
        for sym in msg.symbols:
            try:
                inst = instrument_from_symbol_info(sym, provider_id)
            except SchemaError:
                continue  # an asset name we cannot render canonically is not tradable here
            if sym.status == "TRADING":
                instruments.append(inst)
            else:
                inactive[inst.symbol] = sym.status
                inactive[sym.symbol] = sym.status
        return cls(instruments, inactive)

    def instruments(self) -> Mapping[Symbol, Instrument]:
        """Tradable instruments by canonical symbol."""
        return self._by_symbol

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of a canonical symbol; ControlError saying why when unknown."""
        inst = self._by_symbol.get(Symbol(symbol))
        if inst is None:
            raise ControlError(self._unknown_message(symbol))
        return inst

    def to_canonical(self, venue_symbol: str) -> Symbol:
        """``BTCUSDT`` -> ``BTC-USDT``; SchemaError when the venue symbol is unknown."""
        inst = self._by_venue.get(venue_symbol.upper())
        if inst is None:
            raise SchemaError(f"unknown binance symbol {venue_symbol!r} (not in exchangeInfo)")
        return inst.symbol

    def to_venue(self, symbol: Symbol) -> str:
        """``BTC-USDT`` -> ``BTCUSDT``; SchemaError when the symbol is unknown."""
        inst = self._by_symbol.get(symbol)
        if inst is None:
            raise SchemaError(self._unknown_message(symbol))
        return inst.venue_symbol

    def resolve(self, symbols: Iterable[str]) -> list[Instrument]:
        """Instruments for canonical symbols; one ControlError naming every unknown one."""
        found: list[Instrument] = []
        problems: list[str] = []
        for s in symbols:
            inst = self._by_symbol.get(Symbol(s))
            if inst is None:
                problems.append(self._unknown_message(s))
            else:
                found.append(inst)
        if problems:
            raise ControlError("; ".join(problems))
        return found

    def _unknown_message(self, symbol: str) -> str:
        status = self._inactive.get(symbol)
        if status is not None:
            return f"binance lists {symbol!r} but it is not trading (status {status})"
        hint = ""
        if "-" not in symbol and symbol.upper() in self._by_venue:
            hint = f"; did you mean {self._by_venue[symbol.upper()].symbol!r}?"
        else:
            close = difflib.get_close_matches(symbol, list(self._by_symbol), n=3, cutoff=0.75)
            if close:
                hint = f"; close matches: {', '.join(close)}"
        return (
            f"unknown binance symbol {symbol!r}: not a trading symbol in exchangeInfo "
            f"(use canonical BASE-QUOTE such as BTC-USDT){hint}"
        )

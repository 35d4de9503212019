"""Kraken pairs -> canonical symbols and instruments.

Three spellings meet here: WebSocket v2 ``BTC/USD`` (modern codes), WebSocket v1 and REST
``wsname`` ``XBT/USD``, and REST pair keys (``XXBTZUSD``) or altnames (``XBTUSD``). The
canonical symbol comes from the ``/`` form plus the aliases ``XBT`` -> ``BTC`` and
``XDG`` -> ``DOGE``; REST names map through the ``AssetPairs`` table (``wsname``), never by
chopping ``X``/``Z`` prefixes off strings (``XTZ`` is Tezos).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from tradegw_core.errors import SchemaError
from tradegw_core.schema.symbols import Instrument, Symbol, canonical_symbol
from tradegw_kraken.schemas import (
    KrakenAssetPairMsg,
    KrakenInstrumentMsg,
    KrakenInstrumentPairMsg,
)

__all__ = [
    "ASSET_ALIASES",
    "KrakenPair",
    "KrakenSymbolMap",
    "canonical_asset",
    "decode_asset_pairs",
    "pairs_from_asset_pairs",
    "pairs_from_instrument",
    "ws_to_canonical",
    "ws_v2_name",
]

ASSET_ALIASES = {"XBT": "BTC", "XDG": "DOGE"}
"""Kraken's historical asset codes and their common names."""


def canonical_asset(code: str) -> str:
    """``XBT`` -> ``BTC``, ``XDG`` -> ``DOGE``, anything else upper-cased as is."""
    upper = code.strip().upper()
    return ASSET_ALIASES.get(upper, upper)


def _split_ws(name: str) -> tuple[str, str]:
    base, sep, quote = name.partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise SchemaError(f"{name!r} is not a Kraken BASE/QUOTE pair name")
    return base, quote


def ws_to_canonical(name: str) -> Symbol:
    """``BTC/USD`` or ``XBT/USD`` -> ``BTC-USD``."""
    base, quote = _split_ws(name)
    return canonical_symbol(canonical_asset(base), canonical_asset(quote))


def ws_v2_name(name: str) -> str:
    """The v2 spelling of a v1/``wsname`` pair name: ``XBT/USD`` -> ``BTC/USD``."""
    base, quote = _split_ws(name)
    return f"{canonical_asset(base)}/{canonical_asset(quote)}"


def _pow10(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


class KrakenPair(msgspec.Struct, frozen=True, kw_only=True):
    """An instrument plus the venue names it goes by."""

    instrument: Instrument
    rest_name: str | None = None
    """REST ``altname`` (``XBTUSD``), used as ``pair`` in private REST calls."""
    rest_key: str | None = None
    """REST result key (``XXBTZUSD``)."""
    v1_name: str | None = None
    """REST ``wsname`` / WebSocket v1 name (``XBT/USD``)."""
    online: bool = True


def pairs_from_instrument(msg: KrakenInstrumentMsg, provider: str = "kraken") -> list[KrakenPair]:
    """Pairs of a WebSocket v2 ``instrument`` snapshot (pairs with impossible precisions
    skipped)."""
    return [
        _pair_from_ws(p, provider)
        for p in msg.pairs
        if _sane_precisions(p.price_precision, p.qty_precision)
    ]


def _sane_precisions(price_precision: int, qty_precision: int) -> bool:
    """Precisions the value checks can work with (0 to 18 decimals)."""
    return 0 <= price_precision <= 18 and 0 <= qty_precision <= 18


def _pair_from_ws(p: KrakenInstrumentPairMsg, provider: str) -> KrakenPair:
    inst = Instrument(
        provider=provider,
        symbol=ws_to_canonical(p.symbol),
        venue_symbol=p.symbol,
        base=canonical_asset(p.base),
        quote=canonical_asset(p.quote),
        price_step=p.price_increment or p.tick_size or _pow10(p.price_precision),
        qty_step=p.qty_increment or _pow10(p.qty_precision),
        min_qty=p.qty_min or Decimal(0),
        min_notional=p.cost_min or Decimal(0),
        price_precision=p.price_precision,
        qty_precision=p.qty_precision,
    )
    return KrakenPair(instrument=inst, online=p.status == "online")


class _AssetPairsResponse(msgspec.Struct):
    error: list[str] = []
    result: dict[str, KrakenAssetPairMsg] = {}


def decode_asset_pairs(body: bytes | str) -> dict[str, KrakenAssetPairMsg]:
    """Decode a REST ``AssetPairs`` answer; SchemaError when it reports an error."""
    try:
        resp = msgspec.json.decode(body, type=_AssetPairsResponse)
    except msgspec.DecodeError as exc:
        raise SchemaError(f"malformed Kraken AssetPairs answer: {exc}") from exc
    if resp.error:
        raise SchemaError(f"Kraken AssetPairs answered errors: {resp.error}")
    return resp.result


def pairs_from_asset_pairs(
    result: Mapping[str, KrakenAssetPairMsg], provider: str = "kraken"
) -> list[KrakenPair]:
    """Pairs of REST ``AssetPairs`` (entries without ``wsname``, e.g. dark pools, or with
    impossible precisions, skipped)."""
    pairs: list[KrakenPair] = []
    for key, p in result.items():
        if not p.wsname or not _sane_precisions(p.pair_decimals, p.lot_decimals):
            continue
        v2 = ws_v2_name(p.wsname)
        base, quote = _split_ws(v2)
        inst = Instrument(
            provider=provider,
            symbol=canonical_symbol(base, quote),
            venue_symbol=v2,
            base=base,
            quote=quote,
            price_step=p.tick_size or _pow10(p.pair_decimals),
            qty_step=_pow10(p.lot_decimals),
            min_qty=p.ordermin or Decimal(0),
            min_notional=p.costmin or Decimal(0),
            price_precision=p.pair_decimals,
            qty_precision=p.lot_decimals,
        )
        pairs.append(
            KrakenPair(
                instrument=inst,
                rest_name=p.altname,
                rest_key=key,
                v1_name=p.wsname,
                online=p.status in (None, "online"),
            )
        )
    return pairs


class KrakenSymbolMap:
    """Canonical <-> Kraken names for a set of pairs (implements ``SymbolMapper``)."""

    def __init__(self, pairs: Iterable[KrakenPair]) -> None:
        self._by_symbol: dict[Symbol, KrakenPair] = {}
        self._names: dict[str, Symbol] = {}
        for pair in pairs:
            sym = pair.instrument.symbol
            self._by_symbol[sym] = pair
            for name in (pair.instrument.venue_symbol, pair.rest_name, pair.rest_key, pair.v1_name):
                if name:
                    self._names[name] = sym

    def to_canonical(self, venue_symbol: str) -> Symbol:
        """Any Kraken spelling (``BTC/USD``, ``XBT/USD``, ``XBTUSD``, ``XXBTZUSD``) -> canonical."""
        try:
            return self._names[venue_symbol]
        except KeyError:
            raise SchemaError(f"unknown Kraken pair {venue_symbol!r}") from None

    def find(self, venue_symbol: str) -> Symbol | None:
        """Like :meth:`to_canonical`, None when unknown (the hot path's lookup)."""
        return self._names.get(venue_symbol)

    def to_venue(self, symbol: Symbol) -> str:
        """The WebSocket v2 name (``BTC/USD``) of a canonical symbol."""
        return self.pair(symbol).instrument.venue_symbol

    def rest_name(self, symbol: Symbol) -> str:
        """The REST ``pair`` parameter for a canonical symbol (altname, else the v2 name)."""
        pair = self.pair(symbol)
        return pair.rest_name or pair.instrument.venue_symbol

    def pair(self, symbol: Symbol | str) -> KrakenPair:
        """The pair record of a canonical symbol; SchemaError naming it when unknown."""
        try:
            return self._by_symbol[Symbol(symbol)]
        except KeyError:
            raise SchemaError(f"Kraken has no pair {symbol!r}") from None

    def instrument(self, symbol: Symbol | str) -> Instrument:
        """The instrument of a canonical symbol."""
        return self.pair(symbol).instrument

    def instruments(self) -> dict[Symbol, Instrument]:
        """Every instrument by canonical symbol."""
        return {s: p.instrument for s, p in self._by_symbol.items()}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __len__(self) -> int:
        return len(self._by_symbol)

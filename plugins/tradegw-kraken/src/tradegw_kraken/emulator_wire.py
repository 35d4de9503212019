"""Wire encoding shared by the Kraken emulator's WebSocket and REST sides.

Numbers go out as JSON numbers at the pair's full precision (``600.00000000``, never
``600.0``), as Kraken sends them; Decimals are quantized before encoding.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from tradegw_core.schema.events import Level
from tradegw_core.schema.symbols import Instrument, Symbol
from tradegw_core.sim.http import HttpResponse
from tradegw_core.sim.market import SymbolSpec
from tradegw_kraken.symbols import ASSET_ALIASES

__all__ = [
    "EmulatedPair",
    "encode",
    "levels",
    "order_txid",
    "rest_error",
    "rest_ok",
    "rfc3339",
    "txid_number",
]

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_V1_ALIASES = {v: k for k, v in ASSET_ALIASES.items()}
_X_COINS = frozenset({"XBT", "ETH", "LTC", "XRP", "XLM", "ETC", "MLN", "REP", "ZEC", "XMR",
                            "XDG"})  # fmt: skip
_FIAT = frozenset({"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF"})


def asset_name(v1: str) -> str:
    """Kraken's REST asset name: ``X``/``Z`` prefixed for its first-listed coins and fiat
    (``XXBT``, ``XETH``, ``ZUSD``), else the code itself (``USDT``, ``SOL``)."""
    if v1 in _X_COINS:
        return "X" + v1
    return "Z" + v1 if v1 in _FIAT else v1


def rest_ok(result: Any) -> HttpResponse:
    """A REST success: ``{"error": [], "result": ...}``."""
    return HttpResponse.json({"error": [], "result": result})


def rest_error(*errors: str) -> HttpResponse:
    """A REST failure: ``{"error": [...]}`` (HTTP 200, as the venue answers)."""
    return HttpResponse.json({"error": list(errors)})


def encode(obj: Any) -> str:
    """JSON text with Decimals as numbers (their exact digits)."""
    return _ENCODER.encode(obj).decode()


def rfc3339(ts_ns: int) -> str:
    """``2026-11-24T10:00:00.000100Z`` (microseconds, as Kraken writes them)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1000:06d}Z"


def order_txid(order_id: int) -> str:
    """A Kraken-looking order id for the engine's integer id (``O000042-EMU42-KRAKEN``)."""
    return f"O{order_id:06d}-EMU{order_id % 100:02d}-KRAKEN"


def txid_number(txid: str) -> int | None:
    """The engine id inside :func:`order_txid`'s text, None when it is not one of ours."""
    head = txid.split("-", 1)[0]
    if len(head) != 7 or not head.startswith("O") or not head[1:].isdigit():
        return None
    return int(head[1:])


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class EmulatedPair:
    """One simulator symbol as the emulated Kraken names and renders it."""

    def __init__(self, spec: SymbolSpec, provider: str) -> None:
        self.spec = spec
        base, quote = spec.base, spec.quote
        self.ws_name = f"{base}/{quote}"
        v1_base = _V1_ALIASES.get(base, base)
        v1_quote = _V1_ALIASES.get(quote, quote)
        self.v1_name = f"{v1_base}/{v1_quote}"
        self.rest_name = f"{v1_base}{v1_quote}"
        self.base_asset, self.quote_asset = asset_name(v1_base), asset_name(v1_quote)
        prefixed = v1_base in _X_COINS and v1_quote in _FIAT
        # the venue's keys: XXBTZUSD, XETHZEUR for those coins against fiat; XBTUSDT, SOLUSD else
        self.rest_key = self.base_asset + self.quote_asset if prefixed else self.rest_name
        self.instrument = Instrument(
            provider=provider,
            symbol=Symbol(spec.symbol),
            venue_symbol=self.ws_name,
            base=base,
            quote=quote,
            price_step=spec.tick,
            qty_step=spec.lot,
            min_qty=spec.lot,
            min_notional=spec.min_notional,
            price_precision=_decimals(spec.tick),
            qty_precision=_decimals(spec.lot),
        )

    def price(self, value: Decimal) -> Decimal:
        """``value`` at the pair's price precision."""
        return value.quantize(Decimal(1).scaleb(-self.instrument.price_precision))

    def qty(self, value: Decimal) -> Decimal:
        """``value`` at the pair's quantity precision."""
        return value.quantize(Decimal(1).scaleb(-self.instrument.qty_precision))

    def asset_pair(self) -> dict[str, Any]:
        """The REST ``AssetPairs`` entry."""
        inst = self.instrument
        return {
            "altname": self.rest_name,
            "wsname": self.v1_name,
            "aclass_base": "currency",
            "base": self.base_asset,
            "aclass_quote": "currency",
            "quote": self.quote_asset,
            "lot": "unit",
            "pair_decimals": inst.price_precision,
            "cost_decimals": 5,
            "lot_decimals": inst.qty_precision,
            "lot_multiplier": 1,
            "ordermin": str(inst.min_qty),
            "costmin": str(inst.min_notional),
            "tick_size": str(inst.price_step),
            "status": "online",
        }

    def instrument_pair(self) -> dict[str, Any]:
        """The WebSocket v2 ``instrument`` entry."""
        inst = self.instrument
        return {
            "symbol": self.ws_name,
            "base": inst.base,
            "quote": inst.quote,
            "status": "online",
            "qty_precision": inst.qty_precision,
            "qty_increment": inst.qty_step,
            "price_precision": inst.price_precision,
            "price_increment": inst.price_step,
            "qty_min": inst.min_qty,
            "cost_min": inst.min_notional,
        }


def levels(rows: Sequence[Level]) -> list[dict[str, Decimal]]:
    """Book levels as ``[{"price": ..., "qty": ...}]``."""
    return [{"price": lv.price, "qty": lv.qty} for lv in rows]

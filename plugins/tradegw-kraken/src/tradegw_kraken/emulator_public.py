"""More of the Kraken emulator's REST surface: public market data and account endpoints.

Public (``GET /0/public/...``): ``Assets``, ``Ticker``, ``Trades``, ``OHLC``,
``SystemStatus``; private (signed ``POST /0/private/...``): ``Balance``, ``BalanceEx``,
``TradesHistory``, ``CancelAll``. Shapes follow the venue's REST reference (docs.kraken.com
"Spot REST API") and the fixtures in ``shared/data/nautilus/kraken/http_*.json``; answers
come from the kit's tape, ledger and fill history. Figures Kraken gives for "today" and
"last 24 hours" are both the running figures since the emulator started.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradegw_core.schema.events import Side
from tradegw_core.sim.http import HttpRequest, HttpResponse
from tradegw_core.sim.orders import Liquidity, OrderState
from tradegw_kraken.emulator_wire import EmulatedPair, order_txid, rest_error, rest_ok

if TYPE_CHECKING:
    from tradegw_kraken.emulator import KrakenEmulator

__all__ = ["KrakenPublicApi", "asset_precision", "cancel_everything"]

_OHLC_MINUTES = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)

ASSET_PRECISION: dict[str, tuple[int, int]] = {
    "BTC": (10, 5), "ETH": (10, 5), "SOL": (10, 5), "USDT": (8, 4), "USDC": (8, 4),
    "DOGE": (8, 2), "USD": (4, 2), "EUR": (4, 2),
}  # fmt: skip
"""Asset -> (precision, display precision), from the venue's recorded ``instrument``
snapshot (``shared/data/kraken-data-recorder/instrument_snapshot.json``); others (8, 4)."""


def asset_precision(code: str) -> tuple[int, int]:
    """(decimals, display decimals) of a canonical asset code."""
    return ASSET_PRECISION.get(code, (8, 4))


def _amount(code: str, value: Decimal) -> str:
    """An amount of ``code`` at its decimals, as the venue's balances print it."""
    return f"{value:.{asset_precision(code)[0]}f}"


def cancel_everything(emu: KrakenEmulator, account: str) -> int:
    """Cancel every open order of ``account``; how many were cancelled."""
    count = 0
    for engine in emu.engines.values():
        for ev in engine.open_orders(account):
            if engine.cancel(account, order_id=ev.order_id).state is OrderState.CANCELED:
                count += 1
    return count


class KrakenPublicApi:
    """Handlers bound to one :class:`KrakenEmulator`."""

    def __init__(self, emu: KrakenEmulator) -> None:
        self.emu = emu

    def _pairs(self, query: dict[str, str]) -> list[EmulatedPair] | HttpResponse:
        """``pair=`` (comma separated, any spelling) -> pairs; all when absent."""
        if not query.get("pair"):
            return list(self.emu.pairs.values())
        out = []
        for name in query["pair"].split(","):
            pair = self.emu.by_name.get(name)
            if pair is None:
                return rest_error("EQuery:Unknown asset pair")
            out.append(pair)
        return out

    async def assets(self, request: HttpRequest) -> HttpResponse:
        """``Assets``: every asset of the emulated pairs (``asset=`` filters)."""
        rows: dict[str, dict[str, Any]] = {}
        for p in self.emu.pairs.values():
            base, quote = p.v1_name.split("/")
            for name, v1, code in ((p.base_asset, base, p.spec.base),
                                   (p.quote_asset, quote, p.spec.quote)):  # fmt: skip
                decimals, shown = asset_precision(code)
                rows[name] = {"aclass": "currency", "altname": v1, "decimals": decimals,
                              "display_decimals": shown, "status": "enabled"}  # fmt: skip
        wanted = request.query().get("asset")
        if wanted:
            by_alt = {v["altname"]: k for k, v in rows.items()}
            keys = [by_alt.get(a, a) for a in wanted.split(",")]
            if any(k not in rows for k in keys):
                return rest_error("EQuery:Unknown asset")
            rows = {k: rows[k] for k in keys}
        return rest_ok(rows)

    async def ticker(self, request: HttpRequest) -> HttpResponse:
        """``Ticker?pair=``: ``a b c v p t l h o`` per pair."""
        pairs = self._pairs(request.query())
        if isinstance(pairs, HttpResponse):
            return pairs
        out = {}
        for p in pairs:
            symbol = p.spec.symbol
            book = self.emu.sim.book(self.emu.venue, symbol, depth=1)
            s = self.emu.tape.stats(symbol)
            last = s.last if s else self.emu.sim.mid(symbol)
            ask = book.asks[0] if book.asks else (Decimal(0), Decimal(0))
            bid = book.bids[0] if book.bids else (Decimal(0), Decimal(0))
            vol = str(p.qty(s.volume)) if s else "0"
            vwap = str(p.price(s.vwap)) if s else str(p.price(last))
            low, high = (s.low, s.high) if s else (last, last)
            count = s.trades if s else 0
            out[p.rest_key] = {
                "a": [str(p.price(ask[0])), str(int(ask[1]) or 1), str(p.qty(ask[1]))],
                "b": [str(p.price(bid[0])), str(int(bid[1]) or 1), str(p.qty(bid[1]))],
                "c": [str(p.price(last)), str(p.qty(s.last_qty if s else Decimal(0)))],
                "v": [vol, vol], "p": [vwap, vwap], "t": [count, count],
                "l": [str(p.price(low))] * 2, "h": [str(p.price(high))] * 2,
                "o": str(p.price(s.open if s else last)),
            }  # fmt: skip
        return rest_ok(out)

    async def trades(self, request: HttpRequest) -> HttpResponse:
        """``Trades?pair=&since=&count=``: ``[price, volume, time, b/s, m/l, misc, id]``."""
        q = request.query()
        pair = self.emu.by_name.get(q.get("pair", ""))
        if pair is None:
            return rest_error("EQuery:Unknown asset pair")
        trades = self.emu.tape.recent(pair.spec.symbol)
        if q.get("since"):
            since = Decimal(q["since"])  # seconds, or the nanosecond "last" of an answer
            since_ns = int(since if since > 10**12 else since * 1_000_000_000)
            trades = [t for t in trades if t.ts_ns > since_ns]
        trades = trades[-int(q.get("count", "1000")) :]
        rows = [[str(pair.price(t.price)), str(pair.qty(t.qty)), t.ts_ns / 1e9,
                 "b" if t.aggressor is Side.BUY else "s", "l" if t.origin == "user" else "m",
                 "", t.trade_id] for t in trades]  # fmt: skip
        last = str(trades[-1].ts_ns) if trades else "0"
        return rest_ok({pair.rest_key: rows, "last": last})

    async def ohlc(self, request: HttpRequest) -> HttpResponse:
        """``OHLC?pair=&interval=&since=``: ``[time, o, h, l, c, vwap, volume, count]``."""
        q = request.query()
        pair = self.emu.by_name.get(q.get("pair", ""))
        if pair is None:
            return rest_error("EQuery:Unknown asset pair")
        minutes = int(q.get("interval", "1")) if q.get("interval", "1").isdigit() else 0
        if minutes not in _OHLC_MINUTES:
            return rest_error("EGeneral:Invalid arguments:interval")
        since = int(q["since"]) * 1000 if q.get("since", "").isdigit() else None
        candles = self.emu.tape.candles(pair.spec.symbol, minutes * 60, start_ms=since)
        rows = [[c.start_ms // 1000, str(pair.price(c.open)), str(pair.price(c.high)),
                 str(pair.price(c.low)), str(pair.price(c.close)), str(pair.price(c.vwap)),
                 str(pair.qty(c.volume)), c.trades] for c in candles[-720:]]  # fmt: skip
        last = rows[-1][0] if rows else 0
        return rest_ok({pair.rest_key: rows, "last": last})

    async def system_status(self, request: HttpRequest) -> HttpResponse:
        """``SystemStatus``: always ``online``."""
        now = datetime.fromtimestamp(self.emu.clock.time_ns() / 1e9, UTC)
        return rest_ok({"status": "online", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")})

    # ------------------------------------------------------------------ private
    def _asset_names(self) -> dict[str, str]:
        """Canonical asset code -> Kraken REST asset name."""
        out = {}
        for p in self.emu.pairs.values():
            out[p.spec.base], out[p.spec.quote] = p.base_asset, p.quote_asset
        return out

    async def balance(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``Balance``: asset -> total, at the asset's decimals."""
        names = self._asset_names()
        balances = self.emu.ledger.balances(account)
        return rest_ok({names.get(a, a): _amount(a, b.total) for a, b in balances.items()})

    async def balance_ex(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``BalanceEx``: asset -> ``balance`` (total) and ``hold_trade`` (locked)."""
        names = self._asset_names()
        balances = self.emu.ledger.balances(account)
        return rest_ok({names.get(a, a): {"balance": _amount(a, b.total),
                                      "hold_trade": _amount(a, b.locked)}
                    for a, b in balances.items()})  # fmt: skip

    async def trades_history(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``TradesHistory``: the account's fills, newest first, keyed by trade txid."""
        fills = [f for f in self.emu.fills if f.account == account]
        trades = {}
        for f in reversed(fills):
            pair = self.emu.pairs[f.symbol]
            trades[f"T{f.order_id:06d}-{f.seq:05d}-{f.trade_id or 0:06d}"] = {
                "ordertxid": order_txid(f.order_id), "postxid": "", "pair": pair.rest_name,
                "time": f.ts_ns / 1e9, "type": f.side.value,
                "ordertype": f.order_type.value.lower(), "price": str(pair.price(f.last_price)),
                "cost": str(f.last_price * f.last_qty), "fee": str(f.fee),
                "vol": str(pair.qty(f.last_qty)), "margin": "0.00000", "misc": "",
                "trade_id": f.trade_id, "maker": f.liquidity is Liquidity.MAKER,
            }  # fmt: skip
        return rest_ok({"trades": trades, "count": len(trades)})

    async def cancel_all(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``CancelAll``: cancel every open order; ``{"count": n}``."""
        return rest_ok({"count": cancel_everything(self.emu, account)})

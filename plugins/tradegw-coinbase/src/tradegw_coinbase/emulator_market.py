"""More of the Coinbase emulator's REST surface (Advanced Trade, ``/api/v3/brokerage``).

Public market data and its JWT-authenticated twins: ``market/products/{id}/ticker``
(recent trades + best bid/ask), ``market/products/{id}/candles``, ``best_bid_ask``,
``products``, ``products/{id}``, ``product_book`` (with ``last``, ``mid_market``,
``spread_bps``, ``spread_absolute``). Account endpoints: ``accounts``,
``orders/historical/fills``, ``transaction_summary``. Shapes follow the venue's REST
reference (docs.cdp.coinbase.com "Advanced Trade API") and the fixtures in
``shared/data/nautilus/coinbase/http_*.json``; answers come from the kit's tape, ledger
and fill history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec

from tradegw_coinbase.emulator_wire import format_time, order_uuid, product_json, trade_json
from tradegw_core.sim.http import HttpRequest, HttpResponse, Route
from tradegw_core.sim.orders import Liquidity

if TYPE_CHECKING:
    from tradegw_coinbase.emulator import CoinbaseEmulator

__all__ = ["GRANULARITIES", "CoinbaseMarketApi"]

GRANULARITIES: dict[str, int] = {
    "ONE_MINUTE": 60, "FIVE_MINUTE": 300, "FIFTEEN_MINUTE": 900, "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600, "TWO_HOUR": 7200, "SIX_HOUR": 21600, "ONE_DAY": 86400,
}  # fmt: skip
"""Candle ``granularity`` values -> seconds."""

_FIAT = ("USD", "EUR", "GBP")
_numbers = msgspec.json.Encoder(decimal_format="number")

Signed = Callable[[Callable[[HttpRequest, str], HttpResponse]], Any]


def _invalid(message: str, status: int = 400) -> HttpResponse:
    return HttpResponse.json({"error": "INVALID_ARGUMENT", "message": message,
                              "error_details": message}, status)  # fmt: skip


def _levels(levels: Any) -> list[dict[str, str]]:
    return [{"price": str(p), "size": str(q)} for p, q in levels]


class CoinbaseMarketApi:
    """Handlers bound to one :class:`CoinbaseEmulator`."""

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.emu = emu

    def routes(self, prefix: str, signed: Signed) -> list[Route]:
        """Public routes, their authenticated twins, and the account routes."""
        p = prefix
        public = {
            "products/{product_id}/ticker": self.ticker,
            "products/{product_id}/candles": self.candles,
            "products": self.products,
            "products/{product_id}": self.product,
            "product_book": self.product_book,
        }
        out = [Route("GET", f"{p}/market/{path}", self._public(h)) for path, h in public.items()]
        for path, handler in public.items():
            out.append(Route("GET", f"{p}/{path}", signed(self._twin(handler))))
        out += [
            Route("GET", f"{p}/best_bid_ask", signed(self._twin(self.best_bid_ask))),
            Route("GET", f"{p}/accounts", signed(self.accounts)),
            Route("GET", f"{p}/orders/historical/fills", signed(self.fills)),
            Route("GET", f"{p}/transaction_summary", signed(self.transaction_summary)),
        ]
        return out

    @staticmethod
    def _public(handler: Callable[[HttpRequest], HttpResponse]) -> Any:
        async def run(request: HttpRequest) -> HttpResponse:
            return handler(request)

        return run

    @staticmethod
    def _twin(handler: Any) -> Callable[[HttpRequest, str], HttpResponse]:
        def run(request: HttpRequest, account: str) -> HttpResponse:
            return handler(request)  # type: ignore[no-any-return]

        return run

    # ------------------------------------------------------------------ market data
    def products(self, request: HttpRequest) -> HttpResponse:
        """``products``: every emulated product at its last price."""
        rows = [self._product(s) for s in self.emu.symbols]
        return HttpResponse.json({"products": rows, "num_products": len(rows),
                                  "pagination": None})  # fmt: skip

    def product(self, request: HttpRequest) -> HttpResponse:
        """``products/{product_id}``."""
        pid = request.path_params["product_id"]
        if pid not in self.emu.engines:
            return HttpResponse.json({"error": "NOT_FOUND", "message": "product not found",
                                      "error_details": "product not found"}, 404)  # fmt: skip
        return HttpResponse.json(self._product(pid))

    def _product(self, pid: str) -> dict[str, Any]:
        row = product_json(self.emu.sim.specs[pid])
        stats = self.emu.tape.stats(pid)
        row["price"] = str(stats.last if stats else self.emu.sim.mid(pid))
        return row

    def product_book(self, request: HttpRequest) -> HttpResponse:
        """``product_book?product_id=&limit=``: levels plus last, mid, spread."""
        query = request.query()
        pid = query.get("product_id", "")
        if pid not in self.emu.engines:
            return _invalid(f"unknown product_id {pid!r}")
        limit = int(query.get("limit") or 50)
        book = self.emu.sim.book(self.emu.venue, pid, depth=limit)
        stats = self.emu.tape.stats(pid)
        out: dict[str, Any] = {
            "pricebook": {"product_id": pid, "bids": _levels(book.bids),
                          "asks": _levels(book.asks), "time": format_time(book.ts_ns)},
            "last": str(stats.last) if stats else "",
        }  # fmt: skip
        if book.bids and book.asks:
            bid, ask = book.bids[0][0], book.asks[0][0]
            mid = (bid + ask) / 2
            bps = ((ask - bid) / mid * 10_000).quantize(Decimal("0.0001"))
            out.update(mid_market=str(mid), spread_absolute=str(ask - bid), spread_bps=str(bps))
        return HttpResponse.json(out)

    def best_bid_ask(self, request: HttpRequest) -> HttpResponse:
        """``best_bid_ask?product_ids=...``: one pricebook per product (all when none)."""
        wanted = parse_qs(request.query_string).get("product_ids") or list(self.emu.symbols)
        books = []
        for pid in wanted:
            if pid not in self.emu.engines:
                return _invalid(f"unknown product_id {pid!r}")
            book = self.emu.sim.book(self.emu.venue, pid, depth=1)
            books.append({"product_id": pid, "bids": _levels(book.bids),
                          "asks": _levels(book.asks), "time": format_time(book.ts_ns)})  # fmt: skip
        return HttpResponse.json({"pricebooks": books})

    def ticker(self, request: HttpRequest) -> HttpResponse:
        """``products/{id}/ticker?limit=``: recent trades (newest first), best bid/ask."""
        pid = request.path_params["product_id"]
        if pid not in self.emu.engines:
            return _invalid(f"unknown product_id {pid!r}")
        limit = int(request.query().get("limit") or 100)
        trades = [{**trade_json(t), "bid": "", "ask": "", "exchange": "coinbase"}
                  for t in reversed(self.emu.tape.recent(pid, limit))]  # fmt: skip
        book = self.emu.sim.book(self.emu.venue, pid, depth=1)
        return HttpResponse.json({
            "trades": trades,
            "best_bid": str(book.bids[0][0]) if book.bids else "",
            "best_ask": str(book.asks[0][0]) if book.asks else "",
        })  # fmt: skip

    def candles(self, request: HttpRequest) -> HttpResponse:
        """``products/{id}/candles?start=&end=&granularity=``: newest first."""
        pid = request.path_params["product_id"]
        query = request.query()
        if pid not in self.emu.engines:
            return _invalid(f"unknown product_id {pid!r}")
        seconds = GRANULARITIES.get(query.get("granularity", ""))
        if seconds is None:
            return _invalid(f"granularity must be one of {', '.join(GRANULARITIES)}")
        start = int(query["start"]) * 1000 if query.get("start", "").isdigit() else None
        end = int(query["end"]) * 1000 if query.get("end", "").isdigit() else None
        limit = int(query.get("limit") or 350)
        rows = self.emu.tape.candles(pid, seconds, start_ms=start, end_ms=end)[-limit:]
        return HttpResponse.json({"candles": [
            {"start": str(c.start_ms // 1000), "low": str(c.low), "high": str(c.high),
             "open": str(c.open), "close": str(c.close), "volume": str(c.volume)}
            for c in reversed(rows)
        ]})  # fmt: skip

    # ------------------------------------------------------------------ account
    def accounts(self, request: HttpRequest, account: str) -> HttpResponse:
        """``accounts``: one per asset, ``available_balance`` free and ``hold`` locked."""
        rows = []
        for asset, bal in self.emu.ledger.balances(account).items():
            rows.append({
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account}/{asset}")),
                "name": f"{asset} Wallet", "currency": asset,
                "available_balance": {"value": str(bal.free), "currency": asset},
                "default": asset == "BTC", "active": True,
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": format_time(self.emu.clock.time_ns()), "deleted_at": None,
                "type": "FIAT" if asset in _FIAT else "CRYPTO", "ready": True,
                "hold": {"value": str(bal.locked), "currency": asset},
                "retail_portfolio_id": "",
            })  # fmt: skip
        limit = int(request.query().get("limit") or 49)
        return HttpResponse.json({"accounts": rows[:limit], "has_next": len(rows) > limit,
                                  "cursor": "", "size": min(len(rows), limit)})  # fmt: skip

    def fills(self, request: HttpRequest, account: str) -> HttpResponse:
        """``orders/historical/fills``: the account's fills, newest first."""
        query = parse_qs(request.query_string)
        order_ids = set(query.get("order_ids", []) + query.get("order_id", []))
        products = set(query.get("product_ids", []) + query.get("product_id", []))
        limit = int(query.get("limit", ["100"])[-1] or 100)
        rows = []
        for f in reversed(self.emu.fills):
            oid = order_uuid(f.order_id)
            if f.account != account or (order_ids and oid not in order_ids):
                continue
            if products and f.symbol not in products:
                continue
            rows.append({
                "entry_id": f"{f.order_id}-{f.seq}", "trade_id": str(f.trade_id),
                "order_id": oid, "trade_time": format_time(f.ts_ns), "trade_type": "FILL",
                "price": str(f.last_price), "size": str(f.last_qty), "commission": str(f.fee),
                "product_id": f.symbol, "sequence_timestamp": format_time(f.ts_ns),
                "liquidity_indicator": "MAKER" if f.liquidity is Liquidity.MAKER else "TAKER",
                "size_in_quote": False, "user_id": account, "side": f.side.value.upper(),
                "retail_portfolio_id": "",
            })  # fmt: skip
        return HttpResponse.json({"fills": rows[:limit], "cursor": ""})

    def transaction_summary(self, request: HttpRequest, account: str) -> HttpResponse:
        """``transaction_summary``: volume and fees of the account's fills, the fee tier."""
        mine = [f for f in self.emu.fills if f.account == account]
        volume = sum((f.last_qty * f.last_price for f in mine), Decimal(0))
        fees = sum((f.fee for f in mine), Decimal(0))
        body = {
            "total_volume": volume, "total_fees": fees,
            "fee_tier": {"pricing_tier": "Advanced 1", "usd_from": "0", "usd_to": "10000",
                         "taker_fee_rate": str(self.emu.taker_fee),
                         "maker_fee_rate": str(self.emu.maker_fee), "aop_from": "",
                         "aop_to": ""},
            "margin_rate": None, "goods_and_services_tax": None,
            "advanced_trade_only_volume": volume, "advanced_trade_only_fees": fees,
            "coinbase_pro_volume": 0, "coinbase_pro_fees": 0, "total_balance": "",
            "has_promo_fee": False,
        }  # fmt: skip
        return HttpResponse(200, _numbers.encode(body), (("content-type", "application/json"),))

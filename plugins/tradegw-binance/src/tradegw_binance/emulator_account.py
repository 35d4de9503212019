"""Signed account endpoints of the Binance emulator (rest-api.md, USER_DATA / TRADE).

``GET /api/v3/account``, ``GET /api/v3/myTrades``, ``GET /api/v3/allOrders`` and
``DELETE /api/v3/openOrders`` (cancel every open order of a symbol): a mixin for
:class:`~tradegw_binance.emulator.BinanceEmulator`, on the kit's ledger, matching
engines and fill history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradegw_binance.emulator_wire import dec, error_body, order_json, venue_symbol
from tradegw_core.clock import Clock
from tradegw_core.schema.events import Side
from tradegw_core.sim.emulator import HttpRequest, HttpResponse, Route
from tradegw_core.sim.matching import ExecEvent, Ledger, Liquidity, MatchingEngine

__all__ = ["BinanceAccountMixin"]

_MS = 1_000_000

Signed = Callable[[HttpRequest, int], "tuple[str, dict[str, str]] | HttpResponse"]


def _bad(code: int, msg: str) -> HttpResponse:
    return HttpResponse.json(error_body(code, msg), 400)


class BinanceAccountMixin:
    """Account, trade history, order history and cancel-all."""

    engines: dict[str, MatchingEngine]
    ledger: Ledger
    fills: deque[ExecEvent]
    clock: Clock
    by_venue_symbol: dict[str, str]
    maker_fee: Decimal
    taker_fee: Decimal
    _signed: Signed
    cancel_id: Callable[[str | None], str]

    def account_routes(self) -> list[Route]:
        """The signed account endpoints."""
        return [
            Route("GET", "/api/v3/account", self._account),
            Route("GET", "/api/v3/myTrades", self._my_trades),
            Route("GET", "/api/v3/allOrders", self._all_orders),
            Route("DELETE", "/api/v3/openOrders", self._cancel_open_orders),
        ]

    def _signed_symbol(
        self, request: HttpRequest, weight: int
    ) -> tuple[str, dict[str, str], MatchingEngine] | HttpResponse:
        """A signed call about one symbol: (account, params, its engine) or the error answer."""
        checked = self._signed(request, weight)
        if isinstance(checked, HttpResponse):
            return checked
        account, p = checked
        engine = self._symbol_engine(p)
        if isinstance(engine, HttpResponse):
            return engine
        return account, p, engine

    def _symbol_engine(self, p: dict[str, str]) -> MatchingEngine | HttpResponse:
        if not p.get("symbol"):
            return _bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                        "or malformed.")  # fmt: skip
        symbol = self.by_venue_symbol.get(p["symbol"])
        return self.engines[symbol] if symbol is not None else _bad(-1121, "Invalid symbol.")

    async def _account(self, request: HttpRequest) -> HttpResponse:
        checked = self._signed(request, 20)
        if isinstance(checked, HttpResponse):
            return checked
        account, p = checked
        omit = p.get("omitZeroBalances", "false") == "true"
        balances = [
            {"asset": asset, "free": dec(b.free), "locked": dec(b.locked)}
            for asset, b in self.ledger.balances(account).items()
            if not (omit and b.total == 0)
        ]
        maker, taker = int(self.maker_fee * 10_000), int(self.taker_fee * 10_000)
        return HttpResponse.json({
            "makerCommission": maker, "takerCommission": taker, "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": dec(self.maker_fee), "taker": dec(self.taker_fee),
                                "buyer": dec(Decimal(0)), "seller": dec(Decimal(0))},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": self.clock.time_ns() // _MS, "accountType": "SPOT",
            "balances": balances, "permissions": ["SPOT"], "uid": 1,
        })  # fmt: skip

    async def _my_trades(self, request: HttpRequest) -> HttpResponse:
        checked = self._signed_symbol(request, 20)
        if isinstance(checked, HttpResponse):
            return checked
        account, p, engine = checked
        limit = min(int(p.get("limit", "500")), 1000)
        fills = [f for f in self.fills if f.account == account and f.symbol == engine.symbol]
        if "orderId" in p:
            fills = [f for f in fills if f.order_id == int(p["orderId"])]
        lo, hi = int(p.get("startTime", 0)), int(p.get("endTime", 1 << 62))
        fills = [f for f in fills if lo <= f.ts_ns // _MS <= hi]
        if "fromId" in p:
            fills = [f for f in fills if (f.trade_id or 0) >= int(p["fromId"])][:limit]
        else:
            fills = fills[-limit:]
        return HttpResponse.json([
            {"symbol": venue_symbol(f.symbol), "id": f.trade_id, "orderId": f.order_id,
             "orderListId": -1, "price": dec(f.last_price), "qty": dec(f.last_qty),
             "quoteQty": dec(f.last_price * f.last_qty), "commission": dec(f.fee),
             "commissionAsset": f.fee_asset, "time": f.ts_ns // _MS,
             "isBuyer": f.side is Side.BUY, "isMaker": f.liquidity is Liquidity.MAKER,
             "isBestMatch": True}
            for f in fills
        ])  # fmt: skip

    async def _all_orders(self, request: HttpRequest) -> HttpResponse:
        checked = self._signed_symbol(request, 20)
        if isinstance(checked, HttpResponse):
            return checked
        account, p, engine = checked
        limit = min(int(p.get("limit", "500")), 1000)
        orders = sorted(
            [*engine.closed_orders(account), *engine.open_orders(account)],
            key=lambda e: e.order_id,
        )
        if "orderId" in p:
            orders = [e for e in orders if e.order_id >= int(p["orderId"])][:limit]
        else:
            lo, hi = int(p.get("startTime", 0)), int(p.get("endTime", 1 << 62))
            orders = [e for e in orders if lo <= e.created_ns // _MS <= hi][-limit:]
        return HttpResponse.json([self.order_view(e) for e in orders])

    async def _cancel_open_orders(self, request: HttpRequest) -> HttpResponse:
        checked = self._signed_symbol(request, 1)
        if isinstance(checked, HttpResponse):
            return checked
        account, _, engine = checked
        open_orders = engine.open_orders(account)
        if not open_orders:
            return _bad(-2011, "Unknown order sent.")
        out = []
        for ev in open_orders:
            done = engine.cancel(account, order_id=ev.order_id)
            row = order_json(done, orig_client_order_id=done.client_order_id)
            row["clientOrderId"] = self.cancel_id(None)
            out.append(row)
        return HttpResponse.json(out)

    def order_view(self, ev: ExecEvent) -> dict[str, Any]:
        """A ``GET /api/v3/order`` / ``allOrders`` / ``openOrders`` object."""
        out = order_json(ev)
        del out["transactTime"]
        out.update({"stopPrice": dec(Decimal(0)), "icebergQty": dec(Decimal(0)),
                    "time": ev.created_ns // _MS, "updateTime": ev.ts_ns // _MS,
                    "isWorking": ev.state.is_open})  # fmt: skip
        return out

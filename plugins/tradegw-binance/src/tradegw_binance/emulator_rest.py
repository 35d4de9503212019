"""The REST half of the Binance emulator: ``/api/v3/*`` with signatures, weights, orders.

A mixin for :class:`~tradegw_binance.emulator.BinanceEmulator` (it uses the kit's
``sim``, ``engines``, ``clock`` and credentials). Also keeps the running klines.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tradegw_binance.emulator_wire import (
    error_body,
    exchange_info,
    order_json,
    reject_error,
    venue_symbol,
)
from tradegw_binance.signing import verify_ed25519, verify_hmac
from tradegw_core.clock import Clock
from tradegw_core.net.ratelimit import TokenBucket
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.emulator import ApiCredentials, HttpRequest, HttpResponse, Route
from tradegw_core.sim.market import MarketSimulator, SimTrade
from tradegw_core.sim.matching import MatchingEngine, OrderState

__all__ = ["BinanceRestMixin"]

_MS = 1_000_000
_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_KLINE_MS = 60_000

Answer = tuple[int, Any]
"""(HTTP status, JSON body) of an order action."""


def _err(
    status: int, code: int, msg: str, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    return HttpResponse.json(error_body(code, msg), status, headers)


def _depth_weight(limit: int) -> int:
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


class BinanceRestMixin:
    """REST routes and helpers of the Binance emulator."""

    sim: MarketSimulator
    engines: dict[str, MatchingEngine]
    clock: Clock
    venue: str
    symbols: list[str]
    by_venue_symbol: dict[str, str]
    account_for_key: Callable[[str], ApiCredentials | None]

    def init_rest(self, weight_per_minute: int) -> None:
        """Set up the weight budget, id counters and kline state."""
        self.weight = TokenBucket(weight_per_minute, 60.0, now_ns=self.clock.monotonic_ns())
        self.recv_window_max_ms = 60_000
        self.requests_refused: dict[str, int] = {}
        self.rest_calls: Counter[str] = Counter()
        """Signed REST requests received, by ``"METHOD /path"`` (for tests)."""
        self._cancel_ids = itertools.count(1)
        self._klines: dict[str, dict[str, Any]] = {}
        self._tickers: dict[str, dict[str, Any]] = {}

    # -- routes ---------------------------------------------------------------------------
    def http_routes(self) -> Sequence[Route]:
        """The ``/api/v3`` endpoints."""
        return [
            Route("GET", "/api/v3/ping", self._ping),
            Route("GET", "/api/v3/time", self._time),
            Route("GET", "/api/v3/exchangeInfo", self._exchange_info),
            Route("GET", "/api/v3/depth", self._depth),
            Route("POST", "/api/v3/order", self._new_order),
            Route("DELETE", "/api/v3/order", self._cancel_order),
            Route("GET", "/api/v3/order", self._query_order),
            Route("GET", "/api/v3/openOrders", self._open_orders),
        ]

    def _spend(self, weight: int) -> HttpResponse | None:
        now = self.clock.monotonic_ns()
        wait = self.weight.delay(weight, now)
        if wait > 0:
            return _err(429, -1003, "Too many requests; current limit of IP is 6000 request "
                        "weight per 1 MINUTE.", {"retry-after": str(int(wait) + 1)})  # fmt: skip
        self.weight.reserve(weight, now)
        return None

    def verify_signature(self, cred: ApiCredentials, payload: str, signature: str) -> bool:
        """HMAC-SHA256 with the secret, or Ed25519 when the secret is a PEM public key."""
        if cred.api_secret.startswith("-----BEGIN PUBLIC KEY-----"):
            key = load_pem_public_key(cred.api_secret.encode())
            return isinstance(key, Ed25519PublicKey) and verify_ed25519(key, payload, signature)
        return verify_hmac(cred.api_secret, payload, signature)

    def check_timestamp(self, timestamp: Any, recv_window: Any) -> tuple[int, str] | None:
        """(code, msg) when ``timestamp`` is outside the window, else None."""
        try:
            ts = int(timestamp)
            window = float(recv_window) if recv_window is not None else 5000.0
        except (TypeError, ValueError):
            return (
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        if window > self.recv_window_max_ms:
            return -1131, "recvWindow must be less than 60000"
        now = self.clock.time_ns() // _MS
        if ts >= now + 1000:
            return -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        if now - ts > window:
            return -1021, "Timestamp for this request is outside of the recvWindow."
        return None

    def _signed(
        self, request: HttpRequest, weight: int
    ) -> tuple[str, dict[str, str]] | HttpResponse:
        """Check key, signature and timestamp; (account, params) or the error answer."""
        refused = self._spend(weight)
        if refused is not None:
            return refused
        key = request.headers.get("x-mbx-apikey")
        if not key:
            return _err(401, -2014, "API-key format invalid.")
        cred = self.account_for_key(key)
        if cred is None:
            return _err(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, sep, signature = request.query_string.rpartition("&signature=")
        if not sep:
            query, signature = request.query_string, ""
        body = request.body.decode()
        if not self.verify_signature(cred, query + body, unquote(signature)):
            self.requests_refused["signature"] = self.requests_refused.get("signature", 0) + 1
            return _err(400, -1022, "Signature for this request is not valid.")
        params = {**request.form(), **request.query()}
        params.pop("signature", None)
        problem = self.check_timestamp(params.get("timestamp"), params.get("recvWindow"))
        if problem is not None:
            return _err(400, *problem)
        return cred.account, params

    def _engine(self, params: Mapping[str, str]) -> MatchingEngine | HttpResponse:
        symbol = self.by_venue_symbol.get(params.get("symbol", ""))
        if symbol is None:
            return _err(400, -1121, "Invalid symbol.")
        return self.engines[symbol]

    # -- handlers ---------------------------------------------------------------------------
    async def _ping(self, request: HttpRequest) -> HttpResponse:
        return self._spend(1) or HttpResponse.json({})

    async def _time(self, request: HttpRequest) -> HttpResponse:
        return self._spend(1) or HttpResponse.json({"serverTime": self.clock.time_ns() // _MS})

    async def _exchange_info(self, request: HttpRequest) -> HttpResponse:
        specs = [self.sim.specs[s] for s in self.symbols]
        return self._spend(20) or HttpResponse.json(
            exchange_info(specs, self.clock.time_ns() // _MS)
        )

    async def _depth(self, request: HttpRequest) -> HttpResponse:
        q = request.query()
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 5000:
            return _err(400, -1100, "Illegal characters found in parameter 'limit'.")
        refused = self._spend(_depth_weight(limit))
        if refused is not None:
            return refused
        symbol = self.by_venue_symbol.get(q.get("symbol", ""))
        if symbol is None:
            return _err(400, -1121, "Invalid symbol.")
        book = self.sim.book(self.venue, symbol, depth=limit)
        return HttpResponse.json({
            "lastUpdateId": book.seq,
            "bids": [[str(p), str(qty)] for p, qty in book.bids],
            "asks": [[str(p), str(qty)] for p, qty in book.asks],
        })  # fmt: skip

    async def _new_order(self, request: HttpRequest) -> HttpResponse:
        return self._signed_call(request, 1, self.place_order)

    async def _cancel_order(self, request: HttpRequest) -> HttpResponse:
        return self._signed_call(request, 1, self.cancel_order)

    async def _query_order(self, request: HttpRequest) -> HttpResponse:
        return self._signed_call(request, 4, self.query_order)

    def _signed_call(
        self, request: HttpRequest, weight: int, action: Callable[[str, dict[str, str]], Answer]
    ) -> HttpResponse:
        self.rest_calls[f"{request.method} {request.path}"] += 1
        checked = self._signed(request, weight)
        if isinstance(checked, HttpResponse):
            return checked
        status, body = action(*checked)
        return HttpResponse.json(body, status)

    # -- order actions (shared by REST and the WebSocket API) -------------------------------
    def _engine_for(self, params: Mapping[str, str]) -> MatchingEngine | None:
        symbol = self.by_venue_symbol.get(params.get("symbol", ""))
        return None if symbol is None else self.engines[symbol]

    def place_order(self, account: str, p: dict[str, str]) -> Answer:
        """``POST /api/v3/order`` / ``order.place``: (HTTP status, body)."""
        engine = self._engine_for(p)
        if engine is None:
            return 400, error_body(-1121, "Invalid symbol.")
        cid = p.get("newClientOrderId") or f"emu{next(self._cancel_ids)}"
        if not _CID.match(cid):
            return 400, error_body(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; "
                "legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
            )
        try:
            side = {"BUY": Side.BUY, "SELL": Side.SELL}[p["side"]]
            otype = OrderType(p["type"])
            qty = Decimal(p["quantity"])
            price = Decimal(p["price"]) if "price" in p else None
            tif = TimeInForce(p.get("timeInForce", "GTC"))
        except (KeyError, ValueError, InvalidOperation):
            return 400, error_body(-1102, "Mandatory parameter was not sent, was empty/null, or "
                                   "malformed.")  # fmt: skip
        if otype is OrderType.LIMIT and (price is None or "timeInForce" not in p):
            return 400, error_body(
                -1102, "Mandatory parameter 'price' or 'timeInForce' was not sent."
            )
        events = engine.place(account, cid, side, qty, price, order_type=otype, time_in_force=tif)
        if events[0].state is OrderState.REJECTED:
            return 400, error_body(*reject_error(events[0]))
        resp_type = p.get("newOrderRespType", "RESULT")
        out = order_json(events[-1], resp_type=resp_type)
        out["transactTime"] = events[0].ts_ns // _MS
        if resp_type == "FULL":
            out["fills"] = [
                {"price": str(e.last_price), "qty": str(e.last_qty), "commission": str(e.fee),
                 "commissionAsset": e.fee_asset, "tradeId": e.trade_id}
                for e in events if e.last_qty > 0
            ]  # fmt: skip
        return 200, out

    def cancel_order(self, account: str, p: dict[str, str]) -> Answer:
        """``DELETE /api/v3/order`` / ``order.cancel``."""
        engine = self._engine_for(p)
        if engine is None:
            return 400, error_body(-1121, "Invalid symbol.")
        order_id = int(p["orderId"]) if "orderId" in p else None
        ev = engine.cancel(account, client_order_id=p.get("origClientOrderId"), order_id=order_id)
        if ev.state is OrderState.REJECTED:
            return 400, error_body(-2011, "Unknown order sent.")
        out = order_json(ev, orig_client_order_id=ev.client_order_id)
        out["clientOrderId"] = p.get("newClientOrderId") or f"cancel{next(self._cancel_ids)}"
        return 200, out

    def query_order(self, account: str, p: dict[str, str]) -> Answer:
        """``GET /api/v3/order`` / ``order.status``."""
        engine = self._engine_for(p)
        if engine is None:
            return 400, error_body(-1121, "Invalid symbol.")
        order_id = int(p["orderId"]) if "orderId" in p else None
        ev = engine.order(account, client_order_id=p.get("origClientOrderId"), order_id=order_id)
        if ev is None:
            return 400, error_body(-2013, "Order does not exist.")
        return 200, self._order_view(ev)

    async def _open_orders(self, request: HttpRequest) -> HttpResponse:
        checked = self._signed(request, 6)
        if isinstance(checked, HttpResponse):
            return checked
        account, p = checked
        engines = list(self.engines.values())
        if "symbol" in p:
            engine = self._engine(p)
            if isinstance(engine, HttpResponse):
                return engine
            engines = [engine]
        return HttpResponse.json(
            [self._order_view(ev) for e in engines for ev in e.open_orders(account)]
        )

    def _order_view(self, ev: Any) -> dict[str, Any]:
        out = order_json(ev)
        out.update({"time": ev.created_ns // _MS, "updateTime": ev.ts_ns // _MS,
                    "isWorking": ev.state.is_open, "stopPrice": "0",
                    "icebergQty": "0"})  # fmt: skip
        return out

    # -- klines -----------------------------------------------------------------------------
    def update_kline(self, trade: SimTrade, publish: Callable[[str, dict[str, Any]], None]) -> None:
        """Fold a trade into the 1m candle (a new minute first publishes the closed one)
        and the rolling ticker."""
        sym = venue_symbol(trade.symbol)
        ms = trade.ts_ns // _MS
        start = ms - ms % _KLINE_MS
        name = f"{sym.lower()}@kline_1m"
        k = self._klines.get(sym)
        if k is not None and k["t"] != start:
            k["x"] = True
            publish(name, {"e": "kline", "E": ms, "s": sym, "k": dict(k)})
            k = None
        price, qty = str(trade.price), trade.qty
        if k is None:
            k = self._klines[sym] = {
                "t": start, "T": start + _KLINE_MS - 1, "s": sym, "i": "1m",
                "f": trade.trade_id, "L": trade.trade_id, "o": price, "c": price,
                "h": price, "l": price, "v": "0", "n": 0, "x": False, "q": "0",
            }  # fmt: skip
        k["L"] = trade.trade_id
        k["c"] = price
        k["h"] = str(max(Decimal(k["h"]), trade.price))
        k["l"] = str(min(Decimal(k["l"]), trade.price))
        k["v"] = str(Decimal(k["v"]) + qty)
        k["q"] = str(Decimal(k["q"]) + qty * trade.price)
        k["n"] += 1
        publish(name, {"e": "kline", "E": ms, "s": sym, "k": dict(k)})
        self._ticker_24h(trade, sym, ms, publish)

    def _ticker_24h(
        self, trade: SimTrade, sym: str, ms: int, publish: Callable[[str, dict[str, Any]], None]
    ) -> None:
        """``<sym>@ticker``: running figures since the emulator started (not a true 24 h)."""
        t = self._tickers.setdefault(
            sym, {"o": trade.price, "h": trade.price, "l": trade.price, "v": Decimal(0),
                  "q": Decimal(0), "n": 0, "F": trade.trade_id},
        )  # fmt: skip
        t["h"], t["l"] = max(t["h"], trade.price), min(t["l"], trade.price)
        t["v"] += trade.qty
        t["q"] += trade.qty * trade.price
        t["n"] += 1
        spec = self.sim.specs[trade.symbol]
        bid = self.sim.best(self.venue, trade.symbol, Side.BUY) or (0, 0)
        ask = self.sim.best(self.venue, trade.symbol, Side.SELL) or (0, 0)
        change = trade.price - t["o"]
        publish(f"{sym.lower()}@ticker", {
            "e": "24hrTicker", "E": ms, "s": sym, "p": str(change),
            "P": str((change / t["o"] * 100).quantize(Decimal("0.001"))),
            "w": str(t["q"] / t["v"]), "x": str(t["o"]), "c": str(trade.price),
            "Q": str(trade.qty), "b": str(spec.tick * bid[0]), "B": str(spec.lot * bid[1]),
            "a": str(spec.tick * ask[0]), "A": str(spec.lot * ask[1]), "o": str(t["o"]),
            "h": str(t["h"]), "l": str(t["l"]), "v": str(t["v"]), "q": str(t["q"]),
            "O": ms - 86_400_000, "C": ms, "F": t["F"], "L": trade.trade_id, "n": t["n"],
        })  # fmt: skip

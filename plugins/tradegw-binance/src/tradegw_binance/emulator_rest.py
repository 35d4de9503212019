"""The REST half of the Binance emulator: ``/api/v3/*`` with signatures, weights, orders.

A mixin for :class:`~tradegw_binance.emulator.BinanceEmulator` (it uses the kit's
``sim``, ``engines``, ``clock`` and credentials). Signed requests are checked over
``totalParams``: the query string (without ``signature``) concatenated with no separator
to the form body (without ``signature``), the ``signature`` parameter taken from either;
on a name in both, the query string's value wins (rest-api.md "SIGNED Endpoint Examples
for POST /api/v3/order", examples 1-3).
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
    dec,
    error_body,
    exchange_info,
    order_json,
    reject_error,
)
from tradegw_binance.signing import verify_ed25519, verify_hmac
from tradegw_core.clock import Clock
from tradegw_core.net.ratelimit import TokenBucket
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.emulator import ApiCredentials, HttpRequest, HttpResponse, Route
from tradegw_core.sim.market import MarketSimulator
from tradegw_core.sim.matching import MatchingEngine, OrderState

__all__ = ["BinanceRestMixin"]

_MS = 1_000_000
_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_SIGNATURE = re.compile(r"(?:^|&)signature=([^&]*)")

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
    order_view: Callable[[Any], dict[str, Any]]
    market_routes: Callable[[], list[Route]]
    account_routes: Callable[[], list[Route]]
    _symbols: Callable[[dict[str, str]], list[str] | HttpResponse | None]

    def init_rest(self, weight_per_minute: int) -> None:
        """Set up the weight budget, id counters and kline state."""
        self.weight = TokenBucket(weight_per_minute, 60.0, now_ns=self.clock.monotonic_ns())
        self.recv_window_max_ms = 60_000
        self.requests_refused: dict[str, int] = {}
        self.rest_calls: Counter[str] = Counter()
        """Signed REST requests received, by ``"METHOD /path"`` (for tests)."""
        self._cancel_ids = itertools.count(1)

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
            *self.market_routes(),
            *self.account_routes(),
        ]

    def unknown_route(self, request: HttpRequest) -> HttpResponse:
        """Binance's error object for a path or method it does not serve."""
        return _err(404, -1020, "This operation is not supported.")

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
        query, body = request.query_string, request.body.decode()
        found = _SIGNATURE.search(query) or _SIGNATURE.search(body)
        signature = unquote(found.group(1)) if found is not None else ""
        query, body = _SIGNATURE.sub("", query), _SIGNATURE.sub("", body)
        if not self.verify_signature(cred, query + body, signature):
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
        wanted = self._symbols(request.query())  # symbol= or symbols=["A","B"]
        if isinstance(wanted, HttpResponse):
            return wanted
        specs = [self.sim.specs[s] for s in wanted or self.symbols]
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
            "bids": [[dec(p), dec(qty)] for p, qty in book.bids],
            "asks": [[dec(p), dec(qty)] for p, qty in book.asks],
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
            quote = Decimal(p["quoteOrderQty"]) if "quoteOrderQty" in p else None
            if quote is not None and otype is OrderType.MARKET and "quantity" not in p:
                qty = engine.qty_for_quote(side, quote)
            else:
                quote = None
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
        resp_type = p.get("newOrderRespType", "FULL")  # LIMIT and MARKET default to FULL
        out = order_json(events[-1], resp_type=resp_type)
        out["transactTime"] = events[0].ts_ns // _MS
        if quote is not None and resp_type != "ACK":
            out["origQuoteOrderQty"] = dec(quote)
        if resp_type == "FULL":
            out["fills"] = [
                {"price": dec(e.last_price), "qty": dec(e.last_qty), "commission": dec(e.fee),
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
        out["clientOrderId"] = self.cancel_id(p.get("newClientOrderId"))
        return 200, out

    def cancel_id(self, given: str | None) -> str:
        """The cancel's own ``clientOrderId`` (given, or generated)."""
        return given or f"cancel{next(self._cancel_ids)}"

    def query_order(self, account: str, p: dict[str, str]) -> Answer:
        """``GET /api/v3/order`` / ``order.status``."""
        engine = self._engine_for(p)
        if engine is None:
            return 400, error_body(-1121, "Invalid symbol.")
        order_id = int(p["orderId"]) if "orderId" in p else None
        ev = engine.order(account, client_order_id=p.get("origClientOrderId"), order_id=order_id)
        if ev is None:
            return 400, error_body(-2013, "Order does not exist.")
        return 200, self.order_view(ev)

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
            [self.order_view(ev) for e in engines for ev in e.open_orders(account)]
        )

"""The Kraken emulator's REST side: public pairs and depth, signed private order calls.

Private calls check ``API-Key``, verify ``API-Sign`` byte for byte over the exact body,
and require a nonce larger than the key's last one; failures answer HTTP 200 with
Kraken's ``{"error": [...]}`` like the venue. A duplicate ``cl_ord_id`` among open orders
is refused with ``EOrder:Duplicate cl_ord_id`` (Kraken does not document its text).
"""

from __future__ import annotations

import hmac
import re
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.http import HttpRequest, HttpResponse, Route
from tradegw_core.sim.orders import ExecEvent, OrderState, RejectReason
from tradegw_kraken.emulator_public import KrakenPublicApi
from tradegw_kraken.emulator_wire import order_txid, rest_error, rest_ok, txid_number
from tradegw_kraken.signing import api_sign

if TYPE_CHECKING:
    from tradegw_kraken.emulator import KrakenEmulator

__all__ = ["REJECTS", "KrakenRestApi", "valid_cl_ord_id"]

# cl_ord_id forms the venue accepts: a long UUID, a short (32 hex) UUID, or free text of up
# to 18 printable characters (docs.kraken.com, AddOrder ``cl_ord_id``)
_CL_ORD_ID = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x21-\x7e]{1,18})$"
)


def valid_cl_ord_id(value: str) -> bool:
    """True for a ``cl_ord_id`` in one of the venue's three forms."""
    return _CL_ORD_ID.match(value) is not None


REJECTS = {
    RejectReason.INSUFFICIENT_BALANCE: "EOrder:Insufficient funds",
    RejectReason.BAD_PRICE: "EOrder:Invalid price",
    RejectReason.BAD_PRICE_STEP: "EOrder:Tick size check failed",
    RejectReason.BAD_QTY: "EGeneral:Invalid arguments:volume",
    RejectReason.BAD_QTY_STEP: "EGeneral:Invalid arguments:volume",
    RejectReason.MIN_NOTIONAL: "EOrder:Cost minimum not met",
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: "EOrder:Duplicate cl_ord_id",
    RejectReason.INJECTED: "EService:Busy",
}
_STATUS = {
    OrderState.NEW: "open",
    OrderState.PARTIALLY_FILLED: "open",
    OrderState.FILLED: "closed",
    OrderState.CANCELED: "canceled",
    OrderState.EXPIRED: "expired",
}


class KrakenRestApi:
    """Route handlers bound to one :class:`KrakenEmulator`."""

    def __init__(self, emu: KrakenEmulator) -> None:
        self.emu = emu
        self.nonces: dict[str, int] = {}
        self.rejected_signatures = 0
        self.calls: Counter[str] = Counter()
        """Authenticated private calls answered, by method name (for tests)."""
        self._token_count = 0
        self.more = KrakenPublicApi(emu)

    def routes(self) -> list[Route]:
        """Every REST route."""
        private = {
            "AddOrder": self.add_order,
            "CancelOrder": self.cancel_order,
            "QueryOrders": self.query_orders,
            "OpenOrders": self.open_orders,
            "ClosedOrders": self.closed_orders,
            "GetWebSocketsToken": self.ws_token,
            "Balance": self.more.balance,
            "BalanceEx": self.more.balance_ex,
            "TradesHistory": self.more.trades_history,
            "CancelAll": self.more.cancel_all,
        }
        routes = [
            Route("GET", "/0/public/AssetPairs", self.asset_pairs),
            Route("GET", "/0/public/Time", self.time),
            Route("GET", "/0/public/Depth", self.depth),
            Route("GET", "/0/public/Assets", self.more.assets),
            Route("GET", "/0/public/Ticker", self.more.ticker),
            Route("GET", "/0/public/Trades", self.more.trades),
            Route("GET", "/0/public/OHLC", self.more.ohlc),
            Route("GET", "/0/public/SystemStatus", self.more.system_status),
        ]
        for name, handler in private.items():
            routes.append(Route("POST", f"/0/private/{name}", self._signed(handler)))
        return routes

    # ------------------------------------------------------------------ public
    async def asset_pairs(self, request: HttpRequest) -> HttpResponse:
        """``AssetPairs`` keyed like the venue (``XXBTZUSD``, ``XBTUSDT``); ``pair=`` filters."""
        pairs = self.more._pairs(request.query())
        if isinstance(pairs, HttpResponse):
            return pairs
        return rest_ok({p.rest_key: p.asset_pair() for p in pairs})

    async def time(self, request: HttpRequest) -> HttpResponse:
        """Server time."""
        return rest_ok({"unixtime": self.emu.clock.time_ns() // 1_000_000_000})

    async def depth(self, request: HttpRequest) -> HttpResponse:
        """``Depth?pair=&count=`` (rows of strings, as the venue answers)."""
        query = request.query()
        pair = self.emu.by_name.get(query.get("pair", ""))
        if pair is None:
            return rest_error("EQuery:Unknown asset pair")
        book = self.emu.books[pair.instrument.symbol]
        count = int(query.get("count", "100"))
        ts = self.emu.clock.time_ns() // 1_000_000_000
        rows = {
            side: [[str(lv.price), str(lv.qty), ts] for lv in book.top(side, count)]
            for side in ("bids", "asks")
        }
        return rest_ok({pair.rest_key: rows})

    # ------------------------------------------------------------------ private
    def _signed(self, handler: Any) -> Any:
        async def check(request: HttpRequest) -> HttpResponse:
            creds = self.emu.account_for_key(request.headers.get("api-key", ""))
            if creds is None:
                return rest_error("EAPI:Invalid key")
            form = request.form()
            nonce = form.get("nonce", "")
            expected = api_sign(request.path, nonce, request.body, creds.api_secret)
            if not hmac.compare_digest(expected, request.headers.get("api-sign", "")):
                self.rejected_signatures += 1
                return rest_error("EAPI:Invalid signature")
            if not nonce.isdigit() or int(nonce) <= self.nonces.get(creds.api_key, 0):
                return rest_error("EAPI:Invalid nonce")
            self.nonces[creds.api_key] = int(nonce)
            self.calls[request.path.rsplit("/", 1)[-1]] += 1
            result: HttpResponse = await handler(creds.account, form)
            return result

        return check

    async def ws_token(self, account: str, form: dict[str, str]) -> HttpResponse:
        """A WebSocket token for ``executions``."""
        self._token_count += 1
        token = f"emu-token-{account}-{self._token_count}"
        self.emu.tokens[token] = account
        return rest_ok({"token": token, "expires": 900})

    async def add_order(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``AddOrder`` on the matching engine."""
        pair = self.emu.by_name.get(form.get("pair", ""))
        if pair is None:
            return rest_error("EQuery:Unknown asset pair")
        try:
            side = Side(form["type"])
            order_type = OrderType(form.get("ordertype", "").upper())
            qty = Decimal(form["volume"])
            price = Decimal(form["price"]) if "price" in form else None
            tif = TimeInForce(form.get("timeinforce", "GTC").upper())
        except (KeyError, ValueError, InvalidOperation):
            return rest_error("EGeneral:Invalid arguments")
        if form.get("cl_ord_id") and not valid_cl_ord_id(form["cl_ord_id"]):
            return rest_error("EGeneral:Invalid arguments:cl_ord_id")
        engine = self.emu.engines[pair.instrument.symbol]
        events = engine.place(
            account, form.get("cl_ord_id", ""), side, qty, price,
            order_type=order_type, time_in_force=tif,
        )  # fmt: skip
        first = events[0]
        if first.state is OrderState.REJECTED:
            return rest_error(
                REJECTS.get(first.reason or RejectReason.INJECTED, "EGeneral:Internal error")
            )
        where = f"@ limit {price}" if price is not None else "@ market"
        descr = f"{side.value} {qty} {pair.rest_name} {where}"
        return rest_ok({"descr": {"order": descr}, "txid": [order_txid(first.order_id)]})

    async def cancel_order(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``CancelOrder`` by ``txid`` or ``cl_ord_id``."""
        txid, cl_ord_id = form.get("txid"), form.get("cl_ord_id")
        order_id = txid_number(txid) if txid else None
        for engine in self.emu.engines.values():
            event = engine.cancel(account, client_order_id=cl_ord_id, order_id=order_id)
            if event.state is OrderState.CANCELED:
                return rest_ok({"count": 1})
        return rest_error("EOrder:Unknown order")

    async def query_orders(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``QueryOrders`` by comma-separated ``txid``."""
        out: dict[str, Any] = {}
        for txid in form.get("txid", "").split(","):
            event = self._find(account, order_id=txid_number(txid))
            if event is not None:
                out[txid] = self._info(event)
        return rest_ok(out)

    async def open_orders(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``OpenOrders`` (optionally filtered by ``cl_ord_id``)."""
        return rest_ok({"open": self._listing(account, form.get("cl_ord_id"), open_=True)})

    async def closed_orders(self, account: str, form: dict[str, str]) -> HttpResponse:
        """``ClosedOrders`` (optionally filtered by ``cl_ord_id``)."""
        closed = self._listing(account, form.get("cl_ord_id"), open_=False)
        return rest_ok({"closed": closed, "count": len(closed)})

    def _listing(self, account: str, cl_ord_id: str | None, *, open_: bool) -> dict[str, Any]:
        events: list[ExecEvent] = []
        if cl_ord_id:
            found = self._find(account, client_order_id=cl_ord_id)
            events = [found] if found is not None else []
        elif open_:
            events = [e for eng in self.emu.engines.values() for e in eng.open_orders(account)]
        else:
            events = [e for eng in self.emu.engines.values() for e in eng.closed_orders(account)]
            events.sort(key=lambda e: e.ts_ns, reverse=True)  # the venue lists newest first
        return {order_txid(e.order_id): self._info(e) for e in events if e.state.is_open == open_}

    def _find(
        self, account: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> ExecEvent | None:
        if order_id is None and not client_order_id:
            return None
        for engine in self.emu.engines.values():
            event = engine.order(account, order_id=order_id, client_order_id=client_order_id)
            if event is not None:
                return event
        return None

    def _info(self, e: ExecEvent) -> dict[str, Any]:
        pair = self.emu.pairs[e.symbol]
        info: dict[str, Any] = {
            "status": _STATUS.get(e.state, "open"),
            "descr": {
                "pair": pair.rest_name,
                "type": e.side.value,
                "ordertype": e.order_type.value.lower(),
                "price": str(e.price or 0),
            },
            "vol": str(pair.qty(e.qty)),
            "vol_exec": str(pair.qty(e.cum_qty)),
            "cost": str(e.cum_quote),
            "fee": str(e.cum_fee),
            "price": str(e.avg_price or 0),
            "opentm": e.created_ns / 1e9,
        }
        if e.client_order_id:
            info["cl_ord_id"] = e.client_order_id
        if not e.state.is_open:
            info["closetm"] = e.ts_ns / 1e9
        return info

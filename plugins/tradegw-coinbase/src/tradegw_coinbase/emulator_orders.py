"""The Coinbase emulator's order REST endpoints (create, batch cancel, get, list).

Venue rules kept here (protocol notes sections 4.2-4.3): a repeated ``client_order_id``
never creates a second order, the stored answer of the first request is returned; cancels
go by venue order id only; business failures are HTTP 200 with ``success: false``;
``GET /orders/historical/batch`` has no client-order-id filter and pages with ``cursor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from tradegw_coinbase.emulator_wire import failure_reason, order_int, order_uuid, rest_order_json
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.http import HttpRequest, HttpResponse
from tradegw_core.sim.matching import ExecEvent, MatchingEngine, OrderState

__all__ = ["OrderDesk", "parse_configuration"]

_CONFIGS: dict[str, tuple[OrderType, TimeInForce]] = {
    "limit_limit_gtc": (OrderType.LIMIT, TimeInForce.GTC),
    "limit_limit_fok": (OrderType.LIMIT, TimeInForce.FOK),
    "sor_limit_ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "market_market_ioc": (OrderType.MARKET, TimeInForce.IOC),
}


def parse_configuration(
    configuration: Mapping[str, Any],
) -> tuple[OrderType, TimeInForce, Decimal | None, Decimal | None, Decimal | None] | str:
    """(type, tif, base size, quote size, limit price) of an ``order_configuration``.

    Exactly one of the sizes is set: ``quote_size`` only for ``market_market_ioc`` (a
    market buy spending that much quote); or the reason it is refused.
    """
    if len(configuration) != 1:
        return "exactly one order configuration is required"
    ((name, conf),) = configuration.items()
    if name not in _CONFIGS or not isinstance(conf, Mapping):
        return f"order configuration {name!r} is not supported by the emulator"
    order_type, tif = _CONFIGS[name]
    market = order_type is OrderType.MARKET
    if ("base_size" in conf) == ("quote_size" in conf) or ("quote_size" in conf and not market):
        return f"{name}: give base_size" + (" or quote_size" if market else "")
    try:
        base = Decimal(str(conf["base_size"])) if "base_size" in conf else None
        quote = Decimal(str(conf["quote_size"])) if "quote_size" in conf else None
        price = Decimal(str(conf["limit_price"])) if not market else None
    except (InvalidOperation, KeyError):
        return f"{name}: base_size/quote_size/limit_price must be decimal strings"
    return order_type, tif, base, quote, price


@dataclass
class _Record:
    account: str
    symbol: str
    order_id: int
    configuration: dict[str, Any]
    answer: dict[str, Any]


@dataclass
class OrderDesk:
    """Order state of the emulated venue on top of its matching engines."""

    engines: Mapping[str, MatchingEngine]
    records: dict[tuple[str, str], _Record] = field(default_factory=dict)
    by_id: dict[int, _Record] = field(default_factory=dict)
    fill_counts: dict[int, int] = field(default_factory=dict)
    creates: int = 0
    """POST /orders requests received (duplicates included): what tests count."""

    def on_exec(self, event: ExecEvent) -> int:
        """Count fills of an order (every exec event passes here); returns the count."""
        count = self.fill_counts.get(event.order_id, 0) + (1 if event.last_qty > 0 else 0)
        self.fill_counts[event.order_id] = count
        return count

    def fills(self, order_id: int) -> int:
        """Fills of an order so far."""
        return self.fill_counts.get(order_id, 0)

    def create(self, account: str, body: Any) -> HttpResponse:
        """``POST /orders``."""
        self.creates += 1
        if not isinstance(body, dict) or not body.get("client_order_id"):
            return HttpResponse.json(
                {"error": "INVALID_ARGUMENT", "message": "client_order_id is required"}, 400
            )
        coid = str(body["client_order_id"])
        known = self.records.get((account, coid))
        if known is not None:
            return HttpResponse.json(known.answer)
        product = str(body.get("product_id", ""))
        side_text = str(body.get("side", "")).upper()
        configuration = body.get("order_configuration") or {}
        engine = self.engines.get(product)
        if engine is None:
            return self._failure("INVALID_PRODUCT_ID", f"unknown product {product!r}")
        if side_text not in ("BUY", "SELL"):
            return self._failure("INVALID_SIDE", f"side must be BUY or SELL, got {side_text!r}")
        parsed = parse_configuration(configuration)
        if isinstance(parsed, str):
            return self._failure("UNSUPPORTED_ORDER_CONFIGURATION", parsed)
        order_type, tif, base, quote, price = parsed
        side = Side.BUY if side_text == "BUY" else Side.SELL
        if quote is not None and side is Side.SELL:
            return self._failure("UNSUPPORTED_ORDER_CONFIGURATION",
                                 "market sells are sized in base_size")  # fmt: skip
        size = base if base is not None else engine.qty_for_quote(side, quote or Decimal(0))
        events = engine.place(
            account, coid, side, size, price, order_type=order_type, time_in_force=tif
        )
        first = events[0]
        if first.state is OrderState.REJECTED:
            answer = self._failure_body(failure_reason(first.reason), first.message)
        else:
            answer = {
                "success": True,
                "success_response": {
                    "order_id": order_uuid(first.order_id),
                    "product_id": product,
                    "side": side_text,
                    "client_order_id": coid,
                },
                "order_configuration": configuration,
            }
        rec = _Record(account, product, first.order_id, dict(configuration), answer)
        self.records[(account, coid)] = rec
        if first.order_id:
            self.by_id[first.order_id] = rec
        return HttpResponse.json(answer)

    def cancel(self, account: str, body: Any) -> HttpResponse:
        """``POST /orders/batch_cancel``: by venue order id only."""
        ids = body.get("order_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return HttpResponse.json(
                {"error": "INVALID_ARGUMENT", "message": "order_ids is required"}, 400
            )
        results = []
        for oid in ids:
            num = order_int(str(oid))
            rec = self.by_id.get(num) if num is not None else None
            ok = False
            if rec is not None and rec.account == account:
                ok = self.engines[rec.symbol].cancel(account, order_id=num).state is (
                    OrderState.CANCELED
                )
            reason = "UNKNOWN_CANCEL_FAILURE_REASON" if ok else "UNKNOWN_CANCEL_ORDER"
            results.append({"success": ok, "failure_reason": reason, "order_id": str(oid)})
        return HttpResponse.json({"results": results})

    def _event(self, account: str, rec: _Record) -> ExecEvent | None:
        return self.engines[rec.symbol].order(account, order_id=rec.order_id)

    def get(self, account: str, user_id: str, order_id: str) -> HttpResponse:
        """``GET /orders/historical/{order_id}``."""
        num = order_int(order_id)
        rec = self.by_id.get(num) if num is not None else None
        event = self._event(account, rec) if rec is not None and rec.account == account else None
        if rec is None or event is None:
            return HttpResponse.json({"error": "NOT_FOUND", "message": "order not found"}, 404)
        return HttpResponse.json(
            {"order": rest_order_json(event, rec.configuration, self.fills(rec.order_id), user_id)}
        )

    def list(self, account: str, user_id: str, request: HttpRequest) -> HttpResponse:
        """``GET /orders/historical/batch``: newest first, filtered, paged by ``cursor``."""
        query = parse_qs(request.query_string)
        products = set(query.get("product_ids", []))
        statuses = set(query.get("order_status", []))
        limit = int(query.get("limit", ["100"])[-1] or 100)
        start = int(query.get("cursor", ["0"])[-1] or 0)
        rows = []
        for rec in sorted(self.by_id.values(), key=lambda r: -r.order_id):
            if rec.account != account or (products and rec.symbol not in products):
                continue
            event = self._event(account, rec)
            if event is None:
                continue
            row = rest_order_json(event, rec.configuration, self.fills(rec.order_id), user_id)
            if statuses and row["status"] not in statuses:
                continue
            rows.append(row)
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        return HttpResponse.json(
            {
                "orders": page,
                "sequence": "0",
                "has_next": more,
                "cursor": str(start + limit) if more else "",
            }
        )

    def dump(self) -> dict[str, Any]:
        """JSON values of the desk (``--state-dir``)."""
        return {
            "records": [[r.account, coid, r.symbol, r.order_id, r.configuration, r.answer]
                        for (_, coid), r in self.records.items()],
            "fills": [[k, v] for k, v in self.fill_counts.items()],
        }  # fmt: skip

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the desk with a :meth:`dump`."""
        self.records.clear()
        self.by_id.clear()
        for account, coid, symbol, order_id, configuration, answer in data["records"]:
            rec = _Record(account, symbol, order_id, configuration, answer)
            self.records[(account, coid)] = rec
            if order_id:
                self.by_id[order_id] = rec
        self.fill_counts = {int(k): int(v) for k, v in data["fills"]}

    @staticmethod
    def _failure_body(code: str, message: str) -> dict[str, Any]:
        return {
            "success": False,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "error_response": {
                "error": code,
                "new_order_failure_reason": code,
                "message": message,
                "error_details": "",
            },
        }

    def _failure(self, code: str, message: str) -> HttpResponse:
        return HttpResponse.json(self._failure_body(code, message))

"""WebSocket v2 trading and ``executions`` entries of the Kraken emulator.

Trading requests (docs.kraken.com "Spot WebSocket v2": ``add_order``, ``cancel_order``,
``cancel_all``, ``batch_cancel``, ``cancel_all_orders_after``; kraken.md §4.2), each
authenticated by the ``token`` of ``GetWebSocketsToken``: ``add_order`` answers
``{"order_id", "cl_ord_id"}``; ``cancel_order`` takes one kind of id list (``order_id`` or
``cl_ord_id``) and answers once per order; ``cancel_all`` and ``batch_cancel`` (2 to 50
ids in ``orders`` and ``cl_ord_id`` together) answer ``{"count": n}``;
``cancel_all_orders_after`` arms (``timeout`` seconds), re-arms or (``0``) disarms the
account's dead man's switch and answers ``{"currentTime", "triggerTime"}``; when it fires
every open order is cancelled and it stays off until armed again. Failures are
``success: false`` with the venue's error string. What the orders do meanwhile streams
on ``executions``, one message per entry (kraken.md §5): ``pending_new`` then ``new``; a
fill as ``trade``, a completing one followed by a separate ``filled``; ``canceled`` /
``expired``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.orders import ExecEvent, OrderState, RejectReason
from tradegw_kraken.emulator_public import cancel_everything
from tradegw_kraken.emulator_rest import REJECTS, valid_cl_ord_id
from tradegw_kraken.emulator_wire import order_txid, rfc3339, txid_number

if TYPE_CHECKING:
    from tradegw_kraken.emulator import KrakenEmulator

__all__ = [
    "TRADING_METHODS",
    "exec_entries",
    "fire_dead_man",
    "order_fields",
    "trade",
]

TRADING_METHODS = (
    "add_order",
    "cancel_order",
    "cancel_all",
    "batch_cancel",
    "cancel_all_orders_after",
)

_USD_LIKE = ("USD", "USDT", "USDC")

Answer = dict[str, Any]


def _fail(error: str) -> list[Answer]:
    return [{"success": False, "error": error}]


def trade(emu: KrakenEmulator, method: str, params: dict[str, Any]) -> list[Answer]:
    """Answers (``success`` / ``result`` or ``error``) to one trading request."""
    account = emu.tokens.get(str(params.get("token")))
    if account is None:
        return _fail("EAPI:Invalid key")
    if method == "add_order":
        return [_add_order(emu, account, params)]
    if method == "cancel_order":
        return _cancel_order(emu, account, params)
    if method == "batch_cancel":
        return [_batch_cancel(emu, account, params)]
    if method == "cancel_all_orders_after":
        return [_dead_man(emu, account, params)]
    return [{"success": True, "result": {"count": cancel_everything(emu, account)}}]


def _cancel_one(emu: KrakenEmulator, account: str, ref: str, *, by_id: bool) -> ExecEvent | None:
    order_id = txid_number(ref) if by_id else None
    for engine in emu.engines.values():
        ev = engine.cancel(account, order_id=order_id, client_order_id=None if by_id else ref)
        if ev.state is OrderState.CANCELED:
            return ev
    return None


def _batch_cancel(emu: KrakenEmulator, account: str, p: dict[str, Any]) -> Answer:
    ids, cl_ids = p.get("orders") or [], p.get("cl_ord_id") or []
    if (
        not isinstance(ids, list)
        or not isinstance(cl_ids, list)
        or not 2 <= len(ids) + len(cl_ids) <= 50
    ):
        return {"success": False, "error": "EGeneral:Invalid arguments"}
    done = [_cancel_one(emu, account, str(r), by_id=True) for r in ids]
    done += [_cancel_one(emu, account, str(r), by_id=False) for r in cl_ids]
    return {"success": True, "result": {"count": sum(ev is not None for ev in done)}}


def _dead_man(emu: KrakenEmulator, account: str, p: dict[str, Any]) -> Answer:
    timeout = p.get("timeout")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        return {"success": False, "error": "EGeneral:Invalid arguments:timeout"}
    now = emu.clock.time_ns()
    if timeout == 0:
        emu.dead_man.pop(account, None)
        return {"success": True, "result": {"currentTime": rfc3339(now), "triggerTime": "0"}}
    trigger = now + timeout * 1_000_000_000
    emu.dead_man[account] = trigger
    return {"success": True,
            "result": {"currentTime": rfc3339(now), "triggerTime": rfc3339(trigger)}}  # fmt: skip


def fire_dead_man(emu: KrakenEmulator) -> int:
    """Cancel the orders of every account whose switch is due; how many switches fired."""
    now = emu.clock.time_ns()
    due = [account for account, at in emu.dead_man.items() if at <= now]
    for account in due:
        del emu.dead_man[account]
        cancel_everything(emu, account)
    return len(due)


def _add_order(emu: KrakenEmulator, account: str, p: dict[str, Any]) -> Answer:
    pair = emu.by_name.get(str(p.get("symbol")))
    if pair is None or pair.ws_name != p.get("symbol"):
        return {"success": False, "error": "EQuery:Unknown asset pair"}
    cl_ord_id = str(p.get("cl_ord_id") or "")
    if cl_ord_id and not valid_cl_ord_id(cl_ord_id):
        return {"success": False, "error": "EGeneral:Invalid arguments:cl_ord_id"}
    try:
        side = Side(str(p["side"]))
        order_type = OrderType(str(p["order_type"]).upper())
        qty = Decimal(str(p["order_qty"]))
        price = Decimal(str(p["limit_price"])) if "limit_price" in p else None
        tif = TimeInForce(str(p.get("time_in_force", "gtc")).upper())
    except (KeyError, ValueError, InvalidOperation):
        return {"success": False, "error": "EGeneral:Invalid arguments"}
    engine = emu.engines[pair.instrument.symbol]
    events = engine.place(account, cl_ord_id, side, qty, price, order_type=order_type,
                          time_in_force=tif)  # fmt: skip
    first = events[0]
    if first.state is OrderState.REJECTED:
        error = REJECTS.get(first.reason or RejectReason.INJECTED, "EGeneral:Internal error")
        return {"success": False, "error": error}
    result: dict[str, Any] = {"order_id": order_txid(first.order_id)}
    if cl_ord_id:
        result["cl_ord_id"] = cl_ord_id
    return {"success": True, "result": result}


def _cancel_order(emu: KrakenEmulator, account: str, p: dict[str, Any]) -> list[Answer]:
    kinds = [k for k in ("order_id", "cl_ord_id", "order_userref") if p.get(k)]
    if len(kinds) != 1 or kinds[0] == "order_userref" or not isinstance(p[kinds[0]], list):
        return _fail("EGeneral:Invalid arguments")
    answers: list[Answer] = []
    for ref in p[kinds[0]]:
        done = _cancel_one(emu, account, str(ref), by_id=kinds[0] == "order_id")
        if done is None:
            answers.append({"success": False, "error": "EOrder:Unknown order"})
            continue
        result: dict[str, Any] = {"order_id": order_txid(done.order_id)}
        if done.client_order_id:
            result["cl_ord_id"] = done.client_order_id
        answers.append({"success": True, "result": result})
    return answers


def order_fields(emu: KrakenEmulator, event: ExecEvent) -> dict[str, Any]:
    """The fields every ``executions`` entry of an order carries."""
    pair = emu.pairs[event.symbol]
    fields: dict[str, Any] = {
        "order_id": order_txid(event.order_id), "symbol": pair.ws_name,
        "side": event.side.value, "order_type": event.order_type.value.lower(),
        "order_qty": pair.qty(event.qty), "cum_qty": pair.qty(event.cum_qty),
        "time_in_force": event.time_in_force.value,
        "timestamp": rfc3339(event.ts_ns or emu.clock.time_ns()),
    }  # fmt: skip
    if event.client_order_id:
        fields["cl_ord_id"] = event.client_order_id
    if event.price is not None:
        fields["limit_price"] = pair.price(event.price)
    return fields


def exec_entries(emu: KrakenEmulator, event: ExecEvent) -> list[dict[str, Any]]:
    """The ``executions`` entries of one order change, in the venue's order."""
    fields = order_fields(emu, event)
    pair = emu.pairs[event.symbol]
    state = event.state
    if state is OrderState.NEW:
        return [{**fields, "exec_type": "pending_new", "order_status": "pending_new"},
                {**fields, "exec_type": "new", "order_status": "new"}]  # fmt: skip
    if event.last_qty > 0:
        fill = {**fields, "exec_type": "trade", "order_status": "partially_filled",
                "exec_id": f"T{event.order_id:06d}-{event.seq:05d}-EMULTR",
                "trade_id": event.trade_id, "last_qty": pair.qty(event.last_qty),
                "last_price": pair.price(event.last_price),
                "liquidity_ind": "m" if event.liquidity and event.liquidity.value == "maker"
                else "t", "cost": event.last_qty * event.last_price,
                "fees": [{"asset": event.fee_asset, "qty": event.fee}],
                "cum_cost": event.cum_quote, "avg_price": event.avg_price}  # fmt: skip
        usd = _fee_usd_equiv(event, emu.sim.specs[event.symbol].base)
        if usd is not None:
            fill["fee_usd_equiv"] = usd
        if state is OrderState.FILLED:
            # Kraken's two-step: the completing trade still says partially_filled.
            return [fill, {**fields, "exec_type": "filled", "order_status": "filled"}]
        return [fill]
    word = {OrderState.CANCELED: "canceled", OrderState.EXPIRED: "expired",
            OrderState.FILLED: "filled"}.get(state)  # fmt: skip
    if word is None:
        return []
    return [{**fields, "exec_type": word, "order_status": word}]


def _fee_usd_equiv(event: ExecEvent, base: str) -> Decimal | None:
    """The fee in USD when the fee asset or the fill price is in a USD(-pegged) asset."""
    if event.fee_asset in _USD_LIKE:
        return event.fee
    if event.fee_asset == base and event.symbol.split("-")[-1] in _USD_LIKE:
        return event.fee * event.last_price
    return None

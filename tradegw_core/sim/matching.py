"""The matching engine of one emulated venue and symbol.

Incoming orders match, best price first, against resting user orders (price-time
priority) and the simulator's levels (which act as liquidity: taking them changes the
venue's public book and prints a public trade); at an equal price resting user orders
come first. Resting orders also fill when the simulated market moves through their price
or a simulated trade prints at it, always at their own limit price (maker).

Balances (:class:`~tradegw_core.sim.ledger.Ledger`): a buy locks ``qty * price * (1 +
max fee)`` of the quote asset (a market buy locks the cost it would have now), a sell
locks ``qty`` of the base; each fill pays from the lock, the final state releases what is
left. Fees are charged in the quote asset. Nothing can go negative.

Every state change is an :class:`ExecEvent` returned by :meth:`MatchingEngine.place` /
:meth:`~MatchingEngine.cancel` and delivered to ``subscribe``d listeners (rejects are only
returned: venues answer them on the request). IOC/market remainders and an unfillable
FOK end ``expired``. A client order id is unique among an account's *open* orders.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradegw_core.clock import Clock, SystemClock
from tradegw_core.schema.events import Side
from tradegw_core.schema.orders import OrderType, TimeInForce
from tradegw_core.sim.faults import FaultPlan
from tradegw_core.sim.ledger import Ledger
from tradegw_core.sim.market import BookDelta, MarketEvent, MarketSimulator, SymbolSpec
from tradegw_core.sim.orders import (
    ExecEvent,
    ExecListener,
    Liquidity,
    OrderIntent,
    OrderState,
    RejectReason,
)
from tradegw_core.sim.resting import RestingBook, RestingOrder

__all__ = [
    "ExecEvent",
    "ExecListener",
    "Ledger",
    "Liquidity",
    "MatchingEngine",
    "OrderIntent",
    "OrderState",
    "RejectReason",
]

_ZERO = Decimal(0)


# a planned fill: (price ticks, lots, resting user order or None for simulated liquidity)
_Fill = tuple[int, int, "RestingOrder | None"]


class MatchingEngine:
    """Limit/market orders, GTC/IOC/FOK, cancels and balances for one venue and symbol."""

    def __init__(
        self,
        venue: str,
        spec: SymbolSpec,
        ledger: Ledger,
        *,
        sim: MarketSimulator | None = None,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        order_ids: Iterator[int] | None = None,
        maker_fee: Decimal = Decimal("0.001"),
        taker_fee: Decimal = Decimal("0.001"),
        history: int = 10_000,
    ) -> None:
        self.venue, self.spec, self.ledger, self.sim = venue, spec, ledger, sim
        self.symbol = spec.symbol
        self.base, self.quote = spec.base, spec.quote
        self.clock: Clock = clock or SystemClock()
        self.faults = faults
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self._fee_max = max(maker_fee, taker_fee)
        self._order_ids = order_ids if order_ids is not None else itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._listeners: list[ExecListener] = []
        self._resting = RestingBook()
        self._open: dict[int, RestingOrder] = {}
        self._by_client: dict[tuple[str, str], int] = {}
        # overflow policy ``evict_oldest``: final orders stay queryable, the oldest go first
        self._closed: OrderedDict[int, ExecEvent] = OrderedDict()
        self._closed_by_client: dict[tuple[str, str], int] = {}
        self._history = history
        self._unsubscribe = sim.subscribe(self._on_market, venue=venue) if sim else None

    # ------------------------------------------------------------------ public API
    def subscribe(self, listener: ExecListener) -> Callable[[], None]:
        """Deliver every state change (not rejects) to ``listener``; returns unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        """Stop following the simulator."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def place(
        self,
        account: str,
        client_order_id: str,
        side: Side,
        qty: Decimal,
        price: Decimal | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> list[ExecEvent]:
        """Place an order; the first event is ``new`` or ``rejected`` (with ``reason``)."""
        intent = OrderIntent(
            self.venue, self.symbol, account, client_order_id, side, order_type, qty, price,
            time_in_force,
        )  # fmt: skip
        now = self.clock.time_ns()
        base = ExecEvent(
            self.venue, self.symbol, account, 0, client_order_id, side, order_type,
            time_in_force, price if order_type is OrderType.LIMIT else None, qty,
            OrderState.NEW, fee_asset=self.quote, created_ns=now, ts_ns=now,
        )  # fmt: skip
        action = self.faults.order_action(intent) if self.faults is not None else None
        if action is not None:
            return [self._reject(base, RejectReason.INJECTED, action.message)]
        refused = self._validate(intent)
        if refused is not None:
            return [self._reject(base, *refused)]
        lots = int(qty / self.spec.lot)
        limit = int(price / self.spec.tick) if price is not None else None
        if order_type is OrderType.MARKET:
            limit, time_in_force = None, TimeInForce.IOC
        plan = self._plan(side, limit, lots)
        notional = sum((self.spec.tick * p * self.spec.lot * n for p, n, _ in plan), _ZERO)
        if order_type is OrderType.MARKET and plan and notional < self.spec.min_notional:
            return [self._reject(base, RejectReason.MIN_NOTIONAL, "notional below minimum")]
        if side is Side.BUY:
            asset = self.quote
            gross = notional if price is None or order_type is OrderType.MARKET else qty * price
            need = gross * (1 + self._fee_max)
        else:
            asset, need = self.base, qty
        if not self.ledger.reserve(account, asset, need):
            return [self._reject(base, RejectReason.INSUFFICIENT_BALANCE, f"{asset} short")]
        order = RestingOrder(replace(base, order_id=next(self._order_ids)), limit, lots, need)
        self._open[order.event.order_id] = order
        self._by_client[(account, client_order_id)] = order.event.order_id
        out = [self._emit(order, replace(order.event, seq=next(self._seq)))]
        if time_in_force is TimeInForce.FOK and sum(n for _, n, _ in plan) < lots:
            out.append(self._finish(order, OrderState.EXPIRED))
            return out
        for ticks, n, maker in plan:
            out.extend(self._execute(order, ticks, n, maker))
        if order.event.state.is_open:
            if time_in_force is TimeInForce.GTC:
                self._resting.rest(order)
            else:
                out.append(self._finish(order, OrderState.EXPIRED))
        return out

    def cancel(
        self, account: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> ExecEvent:
        """Cancel an open order; a ``rejected`` event (``unknown_order``) when there is none."""
        if order_id is None and client_order_id is not None:
            order_id = self._by_client.get((account, client_order_id))
        order = self._open.get(order_id) if order_id is not None else None
        if order is None or order.event.account != account:
            return ExecEvent(
                self.venue, self.symbol, account, order_id or 0, client_order_id or "",
                Side.BUY, OrderType.LIMIT, TimeInForce.GTC, None, _ZERO, OrderState.REJECTED,
                reason=RejectReason.UNKNOWN_ORDER, message="unknown order",
                ts_ns=self.clock.time_ns(),
            )  # fmt: skip
        return self._finish(order, OrderState.CANCELED)

    def order(
        self, account: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> ExecEvent | None:
        """The latest event of an order (open, or final and still in history), or None."""
        if order_id is None and client_order_id is not None:
            key = (account, client_order_id)
            order_id = self._by_client.get(key, self._closed_by_client.get(key))
        if order_id is None:
            return None
        found = self._open.get(order_id)
        event = found.event if found is not None else self._closed.get(order_id)
        return event if event is not None and event.account == account else None

    def open_orders(self, account: str | None = None) -> list[ExecEvent]:
        """Latest events of open orders (of ``account`` if given), oldest first."""
        return [o.event for o in self._open.values() if account in (None, o.event.account)]

    def qty_for_quote(self, side: Side, quote: Decimal) -> Decimal:
        """The base quantity (whole lots) a market order worth ``quote`` would trade now."""
        book = self.sim.book(self.venue, self.symbol) if self.sim is not None else None
        levels = (book.asks if side is Side.BUY else book.bids) if book is not None else ()
        qty, left = _ZERO, quote
        for price, size in levels:
            take = min(size, (left / price // self.spec.lot) * self.spec.lot)
            qty, left = qty + take, left - take * price
            if take < size:
                break
        return qty

    def closed_orders(self, account: str | None = None) -> list[ExecEvent]:
        """Final events of the orders still in history (of ``account``), oldest first."""
        return [e for e in self._closed.values() if account in (None, e.account)]

    def dump(self) -> dict[str, Any]:
        """Open orders (queue order kept) and history as JSON values (see sim/state.py)."""
        from tradegw_core.sim.state import event_to_json

        return {
            "open": [
                {"event": event_to_json(o.event), "ticks": o.ticks, "lots": o.lots,
                 "cum_lots": o.cum_lots, "reserved": str(o.reserved)}
                for o in self._open.values()
            ],
            "closed": [event_to_json(e) for e in self._closed.values()],
        }  # fmt: skip

    def load(self, data: Mapping[str, Any]) -> int:
        """Replace orders with a :meth:`dump`; returns the highest order id seen (0: none)."""
        from tradegw_core.sim.state import event_from_json

        self._resting = RestingBook()
        self._open.clear()
        self._by_client.clear()
        self._closed.clear()
        self._closed_by_client.clear()
        top = 0
        for item in data["closed"]:
            ev = event_from_json(item)
            self._closed[ev.order_id] = ev
            self._closed_by_client[(ev.account, ev.client_order_id)] = ev.order_id
            top = max(top, ev.order_id)
        for item in data["open"]:
            ev = event_from_json(item["event"])
            order = RestingOrder(ev, item["ticks"], item["lots"], Decimal(item["reserved"]))
            order.cum_lots = item["cum_lots"]
            self._open[ev.order_id] = order
            self._by_client[(ev.account, ev.client_order_id)] = ev.order_id
            if ev.time_in_force is TimeInForce.GTC and order.ticks is not None:
                self._resting.rest(order)
            top = max(top, ev.order_id)
        return top

    # ------------------------------------------------------------------ validation
    def _validate(self, intent: OrderIntent) -> tuple[RejectReason, str] | None:
        spec, qty, price = self.spec, intent.qty, intent.price
        if qty <= 0:
            return RejectReason.BAD_QTY, f"quantity must be > 0, got {qty}"
        if qty % spec.lot:
            return RejectReason.BAD_QTY_STEP, f"quantity {qty} is not a multiple of {spec.lot}"
        if intent.order_type is OrderType.LIMIT:
            if price is None or price <= 0:
                return RejectReason.BAD_PRICE, "a limit order needs a price > 0"
            if price % spec.tick:
                return (
                    RejectReason.BAD_PRICE_STEP,
                    f"price {price} is not a multiple of {spec.tick}",
                )
            if price * qty < spec.min_notional:
                return RejectReason.MIN_NOTIONAL, f"notional below {spec.min_notional}"
        if (intent.account, intent.client_order_id) in self._by_client:
            return RejectReason.DUPLICATE_CLIENT_ORDER_ID, "client order id of an open order"
        return None

    # ------------------------------------------------------------------ matching
    def _plan(self, side: Side, limit: int | None, lots: int) -> list[_Fill]:
        """The fills an order would get now (user orders first at an equal price)."""
        other = Side.SELL if side is Side.BUY else Side.BUY
        sim_fills = self.sim.peek(self.venue, self.symbol, other, limit, lots) if self.sim else []
        user = self._resting.makers(side, limit)
        buying = side is Side.BUY
        out: list[_Fill] = []
        si, nxt = 0, next(user, None)
        sim_left = sim_fills[0][1] if sim_fills else 0
        while lots > 0 and (nxt is not None or si < len(sim_fills)):
            if nxt is not None and (
                si >= len(sim_fills) or _not_worse(buying, nxt[0], sim_fills[si][0])
            ):
                take = min(lots, nxt[1].lots - nxt[1].cum_lots)
                out.append((nxt[0], take, nxt[1]))
                nxt = next(user, None)
            else:
                take = min(lots, sim_left)
                out.append((sim_fills[si][0], take, None))
                si += 1
                sim_left = sim_fills[si][1] if si < len(sim_fills) else 0
            lots -= take
        return out

    def _execute(
        self, taker: RestingOrder, ticks: int, lots: int, maker: RestingOrder | None
    ) -> list[ExecEvent]:
        side = taker.event.side
        if maker is None and self.sim is not None:
            other = Side.SELL if side is Side.BUY else Side.BUY
            self.sim.take(self.venue, self.symbol, other, ticks, lots)
        trade_id = self._trade(ticks, lots, side)
        out = [self._fill(taker, ticks, lots, Liquidity.TAKER, trade_id)]
        if maker is not None:
            out.append(self._fill(maker, ticks, lots, Liquidity.MAKER, trade_id))
        return out

    def _trade(self, ticks: int, lots: int, aggressor: Side) -> int:
        if self.sim is not None:
            return self.sim.record_trade(self.venue, self.symbol, ticks, lots, aggressor)
        return next(self._trade_ids)

    def _fill(
        self, order: RestingOrder, ticks: int, lots: int, liquidity: Liquidity, trade_id: int
    ) -> ExecEvent:
        ev, spec = order.event, self.spec
        price, qty = spec.tick * ticks, spec.lot * lots
        notional = price * qty
        fee = notional * (self.maker_fee if liquidity is Liquidity.MAKER else self.taker_fee)
        if ev.side is Side.BUY:
            paid, asset = notional + fee, self.quote
            self.ledger.spend_locked(ev.account, self.quote, paid)
            self.ledger.credit(ev.account, self.base, qty)
        else:
            paid, asset = qty, self.base
            self.ledger.spend_locked(ev.account, self.base, qty)
            self.ledger.credit(ev.account, self.quote, notional - fee)
        order.reserved -= paid
        order.cum_lots += lots
        done = order.cum_lots >= order.lots
        event = replace(
            ev,
            state=OrderState.FILLED if done else OrderState.PARTIALLY_FILLED,
            cum_qty=ev.cum_qty + qty, cum_quote=ev.cum_quote + notional,
            cum_fee=ev.cum_fee + fee, last_qty=qty, last_price=price, fee=fee,
            trade_id=trade_id, liquidity=liquidity, ts_ns=self.clock.time_ns(),
            seq=next(self._seq),
        )  # fmt: skip
        if done:
            self._resting.unrest(order)
            self._release(order, asset)
            self._close(order, event)
        return self._emit(order, event)

    def _finish(self, order: RestingOrder, state: OrderState) -> ExecEvent:
        """Cancel or expire: release the lock, take off the book, emit."""
        self._resting.unrest(order)
        ev = order.event
        self._release(order, self.quote if ev.side is Side.BUY else self.base)
        event = replace(
            ev, state=state, last_qty=_ZERO, last_price=_ZERO, fee=_ZERO, trade_id=None,
            liquidity=None, ts_ns=self.clock.time_ns(), seq=next(self._seq),
        )  # fmt: skip
        self._close(order, event)
        return self._emit(order, event)

    def _release(self, order: RestingOrder, asset: str) -> None:
        if order.reserved > 0:
            self.ledger.release(order.event.account, asset, order.reserved)
        order.reserved = _ZERO

    def _close(self, order: RestingOrder, event: ExecEvent) -> None:
        oid = event.order_id
        self._open.pop(oid, None)
        key = (event.account, event.client_order_id)
        if self._by_client.get(key) == oid:
            del self._by_client[key]
        self._closed[oid] = event
        self._closed_by_client[key] = oid
        while len(self._closed) > self._history:
            old_id, old = self._closed.popitem(last=False)
            old_key = (old.account, old.client_order_id)
            if self._closed_by_client.get(old_key) == old_id:
                del self._closed_by_client[old_key]

    def _emit(self, order: RestingOrder, event: ExecEvent) -> ExecEvent:
        order.event = event
        if event.state is not OrderState.REJECTED:
            for listener in list(self._listeners):
                listener(event)
        return event

    def _reject(self, base: ExecEvent, reason: RejectReason, message: str) -> ExecEvent:
        return replace(base, state=OrderState.REJECTED, reason=reason, message=message)

    def _on_market(self, event: MarketEvent) -> None:
        """Fill resting orders the simulated market moved through (at their own price)."""
        if event.symbol != self.symbol or self.sim is None:
            return
        if isinstance(event, BookDelta):
            for side in (Side.BUY, Side.SELL):
                self._cross_book(side)
        elif event.origin == "market":
            self._cross_trade(event.aggressor, int(event.price / self.spec.tick), event.qty)

    def _cross_book(self, side: Side) -> None:
        assert self.sim is not None
        other = Side.SELL if side is Side.BUY else Side.BUY
        while (top := self._resting.top(side)) is not None:
            ticks, order = top
            best = self.sim.best(self.venue, self.symbol, other)
            if best is None or (best[0] > ticks if side is Side.BUY else best[0] < ticks):
                return
            left = order.lots - order.cum_lots
            taken = sum(n for _, n in self.sim.take(self.venue, self.symbol, other, ticks, left))
            self._fill(order, ticks, taken, Liquidity.MAKER, self._trade(ticks, taken, other))

    def _cross_trade(self, aggressor: Side, ticks: int, qty: Decimal) -> None:
        for _, lots, maker in self._plan(aggressor, ticks, int(qty / self.spec.lot)):
            if maker is not None and maker.ticks is not None:
                trade_id = self._trade(maker.ticks, lots, aggressor)
                self._fill(maker, maker.ticks, lots, Liquidity.MAKER, trade_id)


def _not_worse(buying: bool, a: int, b: int) -> bool:
    """True when price ``a`` is at least as good as ``b`` for a taker (lower for a buyer)."""
    return a <= b if buying else a >= b

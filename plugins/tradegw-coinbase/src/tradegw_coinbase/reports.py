"""``user`` channel and REST orders -> canonical ExecReports (protocol notes section 5).

The channel reports order *state*, not fills: the last fill is the increase of
``cumulative_quantity`` (notional: of ``filled_value``; fee: of ``total_fees``), and one
update may cover several fills. :class:`UserOrderTracker` remembers, per order, what was
reported so far, and maps each state with the table of the notes:

========================  ==================  ==========================================
``status``                condition           canonical
========================  ==================  ==========================================
PENDING, QUEUED                               ACK
OPEN                      cum == 0            ACK
OPEN                      cum > 0             PARTIAL (fill = delta cum)
FILLED                                        FILLED (the remaining delta is the last fill)
CANCEL_QUEUED                                 no change (not final)
CANCELLED                                     CANCELLED (a fill seen with it: PARTIAL first)
EXPIRED                                       EXPIRED (likewise)
FAILED                                        REJECTED
UNKNOWN_ORDER_STATUS                          no change; query REST
========================  ==================  ==========================================

Repeats (same state, no new fill) and anything after a final state produce nothing, so a
re-subscribe snapshot never duplicates reports.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tradegw_coinbase.schemas import CoinbaseOrderMsg, CoinbaseUserMsg, CoinbaseUserOrder
from tradegw_coinbase.values import amount
from tradegw_core.schema.events import EventType, ExecReport, ExecState, Side, make_event_id

__all__ = [
    "OrderProgress",
    "UserOrderTracker",
    "report_from_rest_order",
    "side_from_wire",
    "user_order_from_rest",
]

_ZERO = Decimal(0)
_ACK_STATUSES = frozenset({"PENDING", "QUEUED"})
_NO_CHANGE = frozenset({"CANCEL_QUEUED", "UNKNOWN_ORDER_STATUS"})
_FINAL = {
    "FILLED": ExecState.FILLED,
    "CANCELLED": ExecState.CANCELLED,
    "EXPIRED": ExecState.EXPIRED,
    "FAILED": ExecState.REJECTED,
}


def _dec(text: str) -> Decimal:
    """A venue amount (``""`` is 0): plain ASCII ``digits[.digits]``, else RejectedFrameError."""
    return amount(text) if text else _ZERO


_USER_AMOUNTS = (
    "limit_price", "cumulative_quantity", "leaves_quantity", "avg_price", "filled_value",
    "total_fees",
)  # fmt: skip


def check_user_order(order: CoinbaseUserOrder) -> None:
    """RejectedFrameError unless every amount the reports use is a plain decimal >= 0."""
    for name in _USER_AMOUNTS:
        _dec(getattr(order, name))


def _quote(product_id: str) -> str | None:
    """Spot fees are charged in the quote currency (``USD`` of ``BTC-USD``)."""
    return product_id.rsplit("-", 1)[-1] if "-" in product_id else None


def side_from_wire(text: str) -> Side | None:
    """``BUY``/``SELL`` -> canonical side."""
    up = text.upper()
    return Side.BUY if up == "BUY" else Side.SELL if up == "SELL" else None


class OrderProgress(msgspec.Struct, kw_only=True):
    """What was already reported for one order."""

    client_order_id: str
    state: ExecState | None = None
    cum_qty: Decimal = _ZERO
    filled_value: Decimal = _ZERO
    fees: Decimal = _ZERO


class UserOrderTracker:
    """Maps ``user`` channel orders to ExecReports, in order, without repeats.

    Bounded: final orders are forgotten once more than ``max_final`` are remembered
    (oldest first), which is far beyond any re-delivery window of the channel.
    """

    def __init__(self, *, provider: str = "coinbase", max_final: int = 10_000) -> None:
        self.provider = provider
        self._orders: dict[str, OrderProgress] = {}
        self._final_order: list[str] = []
        self._max_final = max_final

    def known(self, order_id: str) -> OrderProgress | None:
        """The progress remembered for a venue order id."""
        return self._orders.get(order_id)

    def unfinished(self) -> list[str]:
        """Venue ids of orders seen but not final yet (what a catch-up must re-query)."""
        return [oid for oid, p in self._orders.items() if p.state is None or not p.state.is_final]

    def on_message(
        self, msg: CoinbaseUserMsg, *, ts_ingest: int = 0, seq: int | None = None
    ) -> list[ExecReport]:
        """Every report of one ``user`` frame, in wire order."""
        from tradegw_coinbase.parsing import parse_time_ns

        ts = parse_time_ns(msg.timestamp)
        for event in msg.events:  # the whole frame is checked before any state changes
            for order in event.orders:
                check_user_order(order)
        out: list[ExecReport] = []
        for event in msg.events:
            for order in event.orders:
                out.extend(self.on_order(order, ts_exchange=ts, ts_ingest=ts_ingest, seq=seq))
        return out

    def on_order(
        self,
        order: CoinbaseUserOrder,
        *,
        ts_exchange: int | None = None,
        ts_ingest: int = 0,
        seq: int | None = None,
    ) -> list[ExecReport]:
        """The reports one order state yields (zero, one, or a PARTIAL then a final)."""
        status = order.status.upper()
        prog = self._orders.get(order.order_id)
        if prog is None:
            prog = OrderProgress(client_order_id=order.client_order_id)
            self._orders[order.order_id] = prog
        if (prog.state is not None and prog.state.is_final) or status in _NO_CHANGE:
            return []
        cum = _dec(order.cumulative_quantity)
        d_qty = cum - prog.cum_qty
        out: list[ExecReport] = []
        if status in _FINAL:
            final = _FINAL[status]
            if final is not ExecState.FILLED and d_qty > 0:
                out.append(
                    self._report(order, prog, ExecState.PARTIAL, ts_exchange, ts_ingest, seq)
                )
            out.append(self._report(order, prog, final, ts_exchange, ts_ingest, seq))
            self._remember_final(order.order_id)
            return out
        if status in _ACK_STATUSES or (status == "OPEN" and cum == 0):
            state = ExecState.ACK
            if prog.state is not None:
                return []
        elif status == "OPEN":
            state = ExecState.PARTIAL
            if d_qty <= 0 and prog.state is ExecState.PARTIAL:
                return []
        else:
            return []
        out.append(self._report(order, prog, state, ts_exchange, ts_ingest, seq))
        return out

    def _report(
        self,
        order: CoinbaseUserOrder,
        prog: OrderProgress,
        state: ExecState,
        ts_exchange: int | None,
        ts_ingest: int,
        seq: int | None,
    ) -> ExecReport:
        cum = _dec(order.cumulative_quantity)
        value = _dec(order.filled_value)
        fees = _dec(order.total_fees)
        d_qty = cum - prog.cum_qty
        d_value = value - prog.filled_value
        last_qty = d_qty if d_qty > 0 else _ZERO
        last_price = (d_value / d_qty) if d_qty > 0 and d_value > 0 else None
        leaves = _dec(order.leaves_quantity)
        if state.is_final:
            leaves = _ZERO
        report = ExecReport(
            event_id=make_event_id(
                self.provider,
                order.product_id,
                EventType.EXEC_REPORT,
                f"{order.order_id}:{state}:{cum}",
            ),
            provider=self.provider,
            symbol=order.product_id,
            venue_symbol=order.product_id,
            seq_provider=seq,
            ts_exchange=ts_exchange,
            ts_ingest=ts_ingest,
            client_order_id=order.client_order_id or prog.client_order_id,
            venue_order_id=order.order_id,
            state=state,
            side=side_from_wire(order.order_side),
            order_qty=cum + _dec(order.leaves_quantity),
            price=_dec(order.limit_price) or None,
            last_qty=last_qty,
            last_price=last_price,
            cum_qty=cum,
            leaves_qty=leaves,
            avg_price=(_dec(order.avg_price) or None) if cum > 0 else None,
            fee=fees - prog.fees if fees > prog.fees else _ZERO,
            fee_asset=_quote(order.product_id),
            reason=order.reject_reason or order.cancel_reason,
            venue_status=order.status,
        )
        prog.state, prog.cum_qty = state, max(cum, prog.cum_qty)
        prog.filled_value, prog.fees = max(value, prog.filled_value), max(fees, prog.fees)
        if order.client_order_id:
            prog.client_order_id = order.client_order_id
        return report

    def _remember_final(self, order_id: str) -> None:
        self._final_order.append(order_id)
        while len(self._final_order) > self._max_final:
            self._orders.pop(self._final_order.pop(0), None)


def _configured_size(order: CoinbaseOrderMsg) -> tuple[Decimal | None, Decimal | None]:
    for conf in order.order_configuration.values():
        size = conf.get("base_size")
        price = conf.get("limit_price")
        return (
            _dec(str(size)) if size not in (None, "") else None,
            _dec(str(price)) if price not in (None, "") else None,
        )
    return None, None


_REST_STATES = {
    "PENDING": ExecState.ACK,
    "QUEUED": ExecState.ACK,
    "OPEN": ExecState.ACK,
    "CANCEL_QUEUED": ExecState.ACK,
    "FILLED": ExecState.FILLED,
    "CANCELLED": ExecState.CANCELLED,
    "EXPIRED": ExecState.EXPIRED,
    "FAILED": ExecState.REJECTED,
}


def report_from_rest_order(
    order: CoinbaseOrderMsg, *, provider: str = "coinbase"
) -> ExecReport | None:
    """The current state of a REST order as an ExecReport (``last_qty`` 0: a state, not a fill).

    Returns None for ``UNKNOWN_ORDER_STATUS``: the state is not known yet.
    """
    status = order.status.upper()
    state = _REST_STATES.get(status)
    if state is None:
        return None
    cum = _dec(order.filled_size)
    if state is ExecState.ACK and cum > 0:
        state = ExecState.PARTIAL
    size, price = _configured_size(order)
    leaves = _ZERO if state.is_final or size is None else max(size - cum, _ZERO)
    return ExecReport(
        event_id=make_event_id(
            provider, order.product_id, EventType.EXEC_REPORT, f"{order.order_id}:{state}:{cum}"
        ),
        provider=provider,
        symbol=order.product_id,
        venue_symbol=order.product_id,
        client_order_id=order.client_order_id,
        venue_order_id=order.order_id,
        state=state,
        side=side_from_wire(order.side),
        order_qty=size,
        price=price or None,
        cum_qty=cum,
        leaves_qty=leaves,
        avg_price=(_dec(order.average_filled_price) or None) if cum > 0 else None,
        reason=order.reject_reason if state is ExecState.REJECTED else order.cancel_message,
        venue_status=order.status,
    )


def user_order_from_rest(order: CoinbaseOrderMsg) -> CoinbaseUserOrder:
    """A REST order in the ``user`` channel's shape, so the tracker can catch up with it."""
    size, price = _configured_size(order)
    cum = _dec(order.filled_size)
    status = order.status.upper()
    leaves = max(size - cum, _ZERO) if size is not None and status in _OPEN_REST else _ZERO
    return CoinbaseUserOrder(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        product_id=order.product_id,
        status=status,
        order_side=order.side,
        order_type=order.order_type.capitalize(),
        time_in_force=order.time_in_force,
        limit_price="" if price is None else str(price),
        cumulative_quantity=str(cum),
        leaves_quantity=str(leaves),
        avg_price=order.average_filled_price or "0",
        number_of_fills=order.number_of_fills or "0",
        filled_value=order.filled_value or "0",
        total_fees=order.total_fees or "0",
        reject_reason=order.reject_reason if status == "FAILED" else "",
        cancel_reason=order.cancel_message,
    )


_OPEN_REST = frozenset({"PENDING", "QUEUED", "OPEN", "CANCEL_QUEUED"})

"""The ``executions`` channel -> canonical ExecReports, in order, each fill once.

State comes from ``order_status`` with two Kraken twists (protocol notes section 5):

- a ``trade`` can say ``partially_filled`` while it completes the order; a later
  ``exec_type: "filled"`` then reports completion and carries **no new fill**. A trade that
  brings ``cum_qty`` to ``order_qty`` is reported FILLED at once, and the trailing
  ``filled`` notice is swallowed; a ``filled`` that arrives first is FILLED with no fill.
- fills are deduplicated by ``exec_id`` (else ``trade_id`` + ``order_id``), so a snapshot
  replaying trades, or two copies of one message, never double-count.

``amended``, ``restated``, ``iceberg_refill`` and ``status`` change no state: they are
reported with the order's current state and the exec type as ``reason``.
Sans-I/O: the adapter feeds frames in and emits what comes out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from decimal import Decimal

from tradegw_core.errors import RejectedFrameError
from tradegw_core.schema.events import EventType, ExecReport, ExecState, Side, make_event_id
from tradegw_kraken.parsing import parse_ts_ns
from tradegw_kraken.schemas import KrakenExecutionMsg, KrakenRestOrderMsg
from tradegw_kraken.symbols import canonical_asset, ws_to_canonical

__all__ = ["STATUS_STATES", "KrakenExecutionMapper", "check_execution", "check_rest_order"]

_ZERO = Decimal(0)
_AMOUNTS = ("order_qty", "last_qty", "cum_qty", "cost", "cum_cost", "avg_price", "fee_usd_equiv")
_PRICES = ("limit_price", "last_price")


def check_execution(item: KrakenExecutionMsg) -> None:
    """RejectedFrameError unless quantities, costs and fees are finite (quantities and costs
    >= 0, prices > 0): no malformed value may reach an ExecReport."""
    for name in _AMOUNTS:
        value = getattr(item, name)
        if value is not None and not (value.is_finite() and value >= 0):
            raise RejectedFrameError(f"execution {name}={value!r} is not a finite number >= 0")
    for name in _PRICES:
        value = getattr(item, name)
        if value is not None and not (value.is_finite() and value > 0):
            raise RejectedFrameError(f"execution {name}={value!r} is not a finite number > 0")
    for fee in item.fees:
        if not fee.qty.is_finite():
            raise RejectedFrameError(f"execution fee {fee.qty!r} is not finite")


def check_rest_order(order: KrakenRestOrderMsg) -> None:
    """RejectedFrameError unless a REST order's numbers are finite and >= 0 (and ``vol_exec``
    does not exceed ``vol``), the same rule as :func:`check_execution`."""
    values = (order.vol, order.vol_exec, order.cost, order.fee, order.price, order.descr.price)
    for value in values:
        if value is not None and not (value.is_finite() and value >= 0):
            raise RejectedFrameError(f"order value {value!r} is not a finite number >= 0")
    if order.vol_exec > order.vol:
        raise RejectedFrameError(f"vol_exec {order.vol_exec} > vol {order.vol}")


STATUS_STATES = {
    "pending_new": ExecState.ACK,
    "new": ExecState.ACK,
    "partially_filled": ExecState.PARTIAL,
    "filled": ExecState.FILLED,
    "canceled": ExecState.CANCELLED,
    "expired": ExecState.EXPIRED,
}
"""Kraken ``order_status`` -> canonical state."""

_EXEC_STATES = {
    "canceled": ExecState.CANCELLED,
    "expired": ExecState.EXPIRED,
    "filled": ExecState.FILLED,
}


class _Order:
    __slots__ = (
        "cl_ord_id",
        "cum_cost",
        "cum_qty",
        "fills",
        "order_id",
        "order_qty",
        "price",
        "side",
        "state",
        "symbol",
        "venue_symbol",
    )

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.cl_ord_id = ""
        self.symbol = ""
        self.venue_symbol = ""
        self.side: Side | None = None
        self.order_qty: Decimal | None = None
        self.price: Decimal | None = None
        self.cum_qty = _ZERO
        self.cum_cost = _ZERO
        self.state: ExecState | None = None
        self.fills: set[str] = set()


class KrakenExecutionMapper:
    """Per-account order tracker turning ``executions`` entries into ExecReports.

    ``to_canonical`` maps a v2 pair name to the canonical symbol. Finished orders are kept
    in a bounded most-recent window (``max_finished``, oldest evicted) so late duplicates
    and trailing ``filled`` notices are still recognised.
    """

    def __init__(
        self,
        provider: str = "kraken",
        to_canonical: Callable[[str], str] = ws_to_canonical,
        *,
        max_finished: int = 10_000,
    ) -> None:
        self._provider = provider
        self._to_canonical = to_canonical
        self._open: dict[str, _Order] = {}
        self._finished: OrderedDict[str, _Order] = OrderedDict()
        self._max_finished = max_finished
        self._last_sequence: int | None = None
        self.gaps = 0
        """How many times the channel's ``sequence`` skipped (lost private messages)."""

    def check_sequence(self, sequence: int | None) -> bool:
        """Record a frame's ``sequence``; True when messages were lost before it."""
        if sequence is None:
            return False
        last, self._last_sequence = self._last_sequence, sequence
        if last is not None and sequence > last + 1:
            self.gaps += 1
            return True
        return False

    def reset_sequence(self) -> None:
        """Forget the sequence (a new subscription restarts it)."""
        self._last_sequence = None

    def register(
        self,
        order_id: str,
        cl_ord_id: str,
        *,
        symbol: str = "",
        side: Side | None = None,
        order_qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Tell the mapper about an order we placed (before its first report may arrive)."""
        order = self._find(order_id) or self._track(order_id)
        order.cl_ord_id = cl_ord_id or order.cl_ord_id
        order.symbol = symbol or order.symbol
        order.side = side or order.side
        order.order_qty = order_qty if order_qty is not None else order.order_qty
        order.price = price if price is not None else order.price

    def open_orders(self) -> list[tuple[str, str, str]]:
        """(order id, cl_ord_id, canonical symbol) of every order not known to be final."""
        return [(o.order_id, o.cl_ord_id, o.symbol) for o in self._open.values()]

    def client_order_id(self, order_id: str) -> str | None:
        """The cl_ord_id known for a venue order id."""
        order = self._find(order_id)
        return order.cl_ord_id if order is not None and order.cl_ord_id else None

    def map_all(self, items: Sequence[KrakenExecutionMsg], ts_ingest: int) -> list[ExecReport]:
        """Map one frame's entries, in order."""
        reports: list[ExecReport] = []
        for item in items:
            report = self.map(item, ts_ingest)
            if report is not None:
                reports.append(report)
        return reports

    def map(self, item: KrakenExecutionMsg, ts_ingest: int) -> ExecReport | None:
        """One entry -> a report, or None when it brings nothing new.

        The entry is checked before anything changes (:func:`check_execution`, its
        timestamp and pair): RejectedFrameError or SchemaError leave the mapper untouched.
        """
        check_execution(item)
        if item.timestamp:
            parse_ts_ns(item.timestamp)
        if item.symbol:
            self._to_canonical(item.symbol)
        order = self._find(item.order_id) or self._track(item.order_id)
        self._absorb(order, item)
        exec_type = item.exec_type
        last_qty, last_price = _ZERO, None
        reason = ""
        if exec_type == "trade":
            fill_key = item.exec_id or f"{item.trade_id}:{item.order_id}"
            if fill_key in order.fills or item.last_qty is None:
                return None
            order.fills.add(fill_key)
            last_qty, last_price = item.last_qty, item.last_price
            order.cum_qty = item.cum_qty if item.cum_qty is not None else order.cum_qty + last_qty
            if item.cum_cost is not None:
                order.cum_cost = item.cum_cost
            elif item.cost is not None:
                order.cum_cost += item.cost
            elif last_price is not None:
                order.cum_cost += last_qty * last_price
            done = item.order_status == "filled" or (
                order.order_qty is not None and order.cum_qty >= order.order_qty
            )
            state = ExecState.FILLED if done else ExecState.PARTIAL
        elif exec_type in _EXEC_STATES:
            state = _EXEC_STATES[exec_type]
            if order.state is not None and order.state.is_final:
                return None
            if item.cum_qty is not None:
                order.cum_qty = item.cum_qty
        elif exec_type in ("pending_new", "new"):
            state = STATUS_STATES.get(item.order_status or exec_type, ExecState.ACK)
            if order.state is not None and (order.state.is_final or order.state is state):
                return None
        else:
            if order.state is not None and order.state.is_final:
                return None
            state = order.state or STATUS_STATES.get(item.order_status or "", ExecState.ACK)
            reason = exec_type
        return self._report(order, item, state, last_qty, last_price, reason, ts_ingest)

    def _absorb(self, order: _Order, item: KrakenExecutionMsg) -> None:
        if item.cl_ord_id:
            order.cl_ord_id = item.cl_ord_id
        if item.symbol:
            order.venue_symbol = item.symbol
            order.symbol = self._to_canonical(item.symbol)
        if item.side in ("buy", "sell"):
            order.side = Side(item.side)
        if item.order_qty is not None:
            order.order_qty = item.order_qty
        if item.limit_price is not None:
            order.price = item.limit_price

    def _report(
        self,
        order: _Order,
        item: KrakenExecutionMsg,
        state: ExecState,
        last_qty: Decimal,
        last_price: Decimal | None,
        reason: str,
        ts_ingest: int,
    ) -> ExecReport:
        order.state = state
        if state.is_final:
            self._finish(order)
        leaves = _ZERO
        if not state.is_final and order.order_qty is not None:
            leaves = max(order.order_qty - order.cum_qty, _ZERO)
        avg = item.avg_price or None  # 0: no fill yet, no average
        if avg is None and order.cum_qty > 0 and order.cum_cost > 0:
            avg = order.cum_cost / order.cum_qty
        key = item.exec_id if item.exec_type == "trade" and item.exec_id else None
        key = key or f"{item.order_id}:{item.exec_type}:{item.timestamp}"
        return ExecReport(
            event_id=make_event_id(self._provider, order.symbol, EventType.EXEC_REPORT, key),
            provider=self._provider,
            symbol=order.symbol,
            venue_symbol=order.venue_symbol,
            ts_exchange=parse_ts_ns(item.timestamp) if item.timestamp else None,
            ts_ingest=ts_ingest,
            client_order_id=order.cl_ord_id,
            venue_order_id=order.order_id,
            state=state,
            side=order.side,
            order_qty=order.order_qty,
            price=order.price,
            last_qty=last_qty,
            last_price=last_price,
            cum_qty=order.cum_qty,
            leaves_qty=leaves,
            avg_price=avg,
            fee=sum((f.qty for f in item.fees), _ZERO),
            fee_asset=canonical_asset(item.fees[0].asset) if item.fees else None,
            reason=reason or (item.reason or ""),
            venue_status=f"{item.exec_type}/{item.order_status or ''}",
        )

    def _find(self, order_id: str) -> _Order | None:
        return self._open.get(order_id) or self._finished.get(order_id)

    def _track(self, order_id: str) -> _Order:
        order = _Order(order_id)
        self._open[order_id] = order
        return order

    def _finish(self, order: _Order) -> None:
        self._open.pop(order.order_id, None)
        self._finished[order.order_id] = order
        self._finished.move_to_end(order.order_id)
        while len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)

"""The ``market_maker`` consumer: one bid and one ask around the mid of one venue's symbol.

A model of a trading strategy; read it top to bottom:

1. ``on_start`` subscribes to the symbol's book (and ticker) on one provider.
2. Every market event updates the mid (book top, or the ticker's bid/ask). When there is no
   live quote on a side, or the mid moved ``requote_ticks`` or more since the quotes were
   placed, the strategy cancels its live quotes and places new ones (cancel/replace) at
   ``mid -/+ edge_ticks * tick``, rounded away from the mid onto the tick grid.
3. Each order gets a fresh client order id (``<prefix>-<n>``, short enough for every venue)
   and the submission's :class:`~tradegw_core.schema.orders.OrderResult` is checked at once:
   ``SUPPRESSED`` means the trading switch is off and ``REJECTED`` that the order was
   refused: either way the strategy pauses quoting for ``pause_s`` instead of hammering
   the gateway (a suppressed order never reaches the venue and gets no exec report).
4. ``on_exec_report`` tracks each order's state (ACK, PARTIAL, FILLED, CANCELLED...), fills,
   the position and the cash spent, and forgets orders that reached a final state. A side
   whose position would pass ``max_position`` is not quoted.
5. ``on_stop`` cancels whatever is still live.

Money is Decimal throughout.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict, Field

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    Event,
    EventType,
    ExecReport,
    Side,
    Ticker,
)
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderStatus

__all__ = ["MarketMakerConsumer", "MarketMakerSettings", "OrderView"]

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class MarketMakerSettings(BaseModel):
    """``[consumers.market_maker]``: where to quote, how big and how wide."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = "binance"
    """The one venue to quote on."""
    symbol: str = "BTC-USDT"
    """Canonical symbol."""
    qty: Decimal = Field(default=Decimal("0.001"), gt=0)
    """Size of each quote, in the base asset."""
    tick: Decimal = Field(default=Decimal("0.01"), gt=0)
    """The venue's price increment; quotes are rounded onto it."""
    edge_ticks: int = Field(default=1, ge=1)
    """Distance of each quote from the mid, in ticks."""
    requote_ticks: int = Field(default=2, ge=1)
    """Cancel/replace once the mid moved this many ticks from where it was quoted."""
    max_position: Decimal = Field(default=Decimal("0.01"), gt=0)
    """Do not quote a side that would take |position| above this."""
    pause_s: float = Field(default=1.0, ge=0)
    """After a SUPPRESSED (trading switch off) or REJECTED answer, wait this long before
    quoting again instead of hammering the gateway."""
    history: int = Field(default=20, ge=1)
    """How many finished orders to keep for display."""


@dataclass(slots=True)
class OrderView:
    """One of the strategy's orders as its execution reports describe it."""

    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    state: str = "NEW"
    """``NEW`` until the first report, then the canonical ExecState (or SUPPRESSED...)."""
    cum_qty: Decimal = Decimal(0)
    cancel_sent: bool = False


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


class MarketMakerConsumer:
    """Quotes around the mid with cancel/replace (see the module docstring)."""

    def __init__(self, settings: MarketMakerSettings | None = None) -> None:
        self.settings = settings if settings is not None else MarketMakerSettings()
        self.book = OrderBook()
        self.mid: Decimal | None = None
        self.quoted_mid: Decimal | None = None
        self.live: dict[str, OrderView] = {}
        """Orders not yet final, by client order id."""
        self.finished: OrderedDict[str, OrderView] = OrderedDict()
        """The newest finished orders, oldest first (at most ``history``); late reports of
        these still count their fills."""
        self.states_seen: Counter[str] = Counter()
        """Execution reports per state, plus ``SUPPRESSED`` submissions (which have none)."""
        self.position = Decimal(0)
        self.cash = Decimal(0)
        """Quote currency received (sells) minus paid (buys), fees excluded."""
        self.fees = Decimal(0)
        self.fills = 0
        self.suppressed = 0
        self.rejected = 0
        self._ctx: ConsumerContext | None = None
        self._prefix = "mm"
        self._next_id = 0
        self._paused_until_ns = 0

    # -- callbacks ---------------------------------------------------------------------

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Pick a client order id prefix unique to this run, then subscribe."""
        self._ctx = ctx
        self._prefix = "mm" + _base36(ctx.clock.time_ns() // 1_000_000)[-8:]
        s = self.settings
        types = (EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE, EventType.TICKER)
        ack = await ctx.subscribe((s.provider,), (s.symbol,), types)
        if not ack.ok:
            ctx.log.error("mm.subscribe_failed", extra={"error": ack.error})

    async def on_event(self, event: Event) -> None:
        """Update the mid; cancel/replace the quotes when it moved far enough."""
        s = self.settings
        if event.provider != s.provider or event.symbol != s.symbol:
            return
        mid = self._mid_from(event)
        if mid is None:
            return
        self.mid = mid
        await self.requote()

    async def on_exec_report(self, report: ExecReport) -> None:
        """Track the order's state, fills and the position."""
        self.states_seen[str(report.state)] += 1
        cid = report.client_order_id
        order = self.live.get(cid) or self.finished.get(cid)
        if order is None:
            return  # not one of ours (or long forgotten)
        filled = report.cum_qty - order.cum_qty  # robust to duplicate reports
        if filled > 0:
            self.fills += 1
            price = report.last_price if report.last_price is not None else order.price
            signed = filled if order.side is Side.BUY else -filled
            self.position += signed
            self.cash -= signed * price
            self.fees += report.fee
            order.cum_qty = report.cum_qty
        order.state = str(report.state)
        if report.state.is_final:
            self._finish(order)

    async def on_stop(self) -> None:
        """Cancel every live quote (cancels pass even when trading is switched off)."""
        await self.cancel_all()

    # -- quoting -----------------------------------------------------------------------

    def _mid_from(self, event: Event) -> Decimal | None:
        if isinstance(event, BookSnapshot):
            self.book.load(event.bids, event.asks)
        elif isinstance(event, BookUpdate):
            for level in event.bids:
                self.book.set_bid(level.price, level.qty)
            for level in event.asks:
                self.book.set_ask(level.price, level.qty)
        elif isinstance(event, Ticker):
            if event.bid_price is not None and event.ask_price is not None:
                return (event.bid_price + event.ask_price) / 2
            return None
        else:
            return None
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None or bid.price >= ask.price:
            return None
        return (bid.price + ask.price) / 2

    def quotes_for(self, mid: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) prices for ``mid``: ``edge_ticks`` away, rounded away onto the grid."""
        s = self.settings
        edge = s.tick * s.edge_ticks
        bid = ((mid - edge) / s.tick).to_integral_value(ROUND_FLOOR) * s.tick
        ask = ((mid + edge) / s.tick).to_integral_value(ROUND_CEILING) * s.tick
        return bid, ask

    async def requote(self) -> None:
        """Cancel/replace when needed; place missing sides; respect the position limit."""
        ctx, mid, s = self._ctx, self.mid, self.settings
        if ctx is None or mid is None or ctx.clock.monotonic_ns() < self._paused_until_ns:
            return
        moved = self.quoted_mid is not None and abs(mid - self.quoted_mid) >= s.tick * (
            s.requote_ticks
        )
        if moved:
            await self.cancel_all()
        bid, ask = self.quotes_for(mid)
        for side, price in ((Side.BUY, bid), (Side.SELL, ask)):
            if self._has_quote(side) or not self._within_limit(side):
                continue
            if not await self._place(side, price):
                return
            self.quoted_mid = mid

    async def cancel_all(self) -> None:
        """Send one cancel for every live order that has none pending."""
        ctx = self._ctx
        if ctx is None:
            return
        for order in list(self.live.values()):
            if order.cancel_sent:
                continue
            order.cancel_sent = True
            result = await ctx.cancel_order(
                CancelRequest(
                    client_order_id=order.client_order_id,
                    consumer_id=ctx.consumer_id,
                    provider=self.settings.provider,
                    symbol=self.settings.symbol,
                )
            )
            if not result.ok:
                ctx.log.info(
                    "mm.cancel_refused",
                    extra={"client_order_id": order.client_order_id, "reason": result.reason},
                )
                if result.state is not None and result.state.is_final:
                    order.state = str(result.state)
                    self._finish(order)

    def _has_quote(self, side: Side) -> bool:
        return any(o.side is side and not o.cancel_sent for o in self.live.values())

    def _within_limit(self, side: Side) -> bool:
        signed = self.settings.qty if side is Side.BUY else -self.settings.qty
        return abs(self.position + signed) <= self.settings.max_position

    def new_client_order_id(self) -> str:
        """``<prefix>-<n>``: unique within the run, at most 18 characters."""
        self._next_id += 1
        return f"{self._prefix}-{self._next_id}"

    async def _place(self, side: Side, price: Decimal) -> bool:
        """Submit one quote; False when quoting should pause (suppressed or rejected)."""
        ctx, s = self._ctx, self.settings
        assert ctx is not None
        cid = self.new_client_order_id()
        order = OrderView(cid, side, price, s.qty)
        self.live[cid] = order
        result = await ctx.submit_order(
            OrderRequest(
                client_order_id=cid,
                consumer_id=ctx.consumer_id,
                provider=s.provider,
                symbol=s.symbol,
                side=side,
                qty=s.qty,
                price=price,
                decision_id=f"quote-{self._next_id}",
            )
        )
        if result.status is OrderStatus.SUPPRESSED:
            self.suppressed += 1
            self.states_seen["SUPPRESSED"] += 1
            order.state = "SUPPRESSED"
            self._finish(order)
            self._paused_until_ns = ctx.clock.monotonic_ns() + int(s.pause_s * 1e9)
            ctx.log.info("mm.suppressed", extra={"detail": result.message})
            return False
        if result.status is OrderStatus.REJECTED:
            self.rejected += 1
            order.state = "REJECTED"
            self._finish(order)
            self._paused_until_ns = ctx.clock.monotonic_ns() + int(s.pause_s * 1e9)
            ctx.log.warning(
                "mm.rejected", extra={"reason": result.reason, "detail": result.message}
            )
            return False
        if result.state is not None and order.state == "NEW":
            order.state = str(result.state)
            if result.state.is_final:
                self._finish(order)
        return True

    def _finish(self, order: OrderView) -> None:
        if self.live.pop(order.client_order_id, None) is not None:
            self.finished[order.client_order_id] = order
            while len(self.finished) > self.settings.history:
                self.finished.popitem(last=False)

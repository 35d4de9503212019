"""The market maker: quoting around the mid, cancel/replace, fills, suppression, rejection."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from tradegw_consumer_examples.market_maker import MarketMakerConsumer, MarketMakerSettings

from tradegw_core.clock import FakeClock
from tradegw_core.schema.control import Ack
from tradegw_core.schema.events import (
    BookSnapshot,
    BookUpdate,
    EventType,
    ExecReport,
    ExecState,
    Level,
    Side,
    Ticker,
)
from tradegw_core.schema.orders import (
    CancelRequest,
    CancelResult,
    OrderRequest,
    OrderResult,
    OrderStatus,
)

D = Decimal


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeContext:
    """A ConsumerContext that records orders and cancels and answers as told."""

    def __init__(self, status: OrderStatus = OrderStatus.ACCEPTED) -> None:
        self.consumer_id = "mm"
        self.settings = None
        self.clock = FakeClock()
        self.log = logging.getLogger("test.mm")
        self.metrics = None
        self.status = status
        self.orders: list[OrderRequest] = []
        self.cancels: list[CancelRequest] = []
        self.subscribed: list[tuple[tuple[str, ...], tuple[str, ...], tuple[EventType, ...]]] = []
        self.cancel_answer: CancelResult | None = None

    async def subscribe(
        self, providers: Sequence[str], symbols: Sequence[str], types: Sequence[EventType]
    ) -> Ack:
        self.subscribed.append((tuple(providers), tuple(symbols), tuple(types)))
        return Ack(request_id="s", ok=True)

    async def unsubscribe(self, *args: Any) -> Ack:
        return Ack(request_id="u", ok=True)

    async def submit_order(self, order: OrderRequest) -> OrderResult:
        self.orders.append(order)
        state = ExecState.ACK if self.status is OrderStatus.ACCEPTED else None
        return OrderResult(
            client_order_id=order.client_order_id,
            status=self.status,
            state=state,
            reason="" if self.status is OrderStatus.ACCEPTED else "switched_off",
        )

    async def cancel_order(self, request: CancelRequest) -> CancelResult:
        self.cancels.append(request)
        if self.cancel_answer is not None:
            return self.cancel_answer
        return CancelResult(client_order_id=request.client_order_id, ok=True)


def book(bid: str, ask: str, *, provider: str = "binance") -> BookSnapshot:
    return BookSnapshot(
        event_id=f"s{bid}",
        provider=provider,
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        bids=(Level(D(bid), D(1)),),
        asks=(Level(D(ask), D(1)),),
    )


def ticker(bid: str, ask: str) -> Ticker:
    return Ticker(
        event_id=f"t{bid}",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        bid_price=D(bid),
        ask_price=D(ask),
    )


def report(
    order: OrderRequest, state: ExecState, cum: str = "0", price: str | None = None
) -> ExecReport:
    return ExecReport(
        event_id=f"r-{order.client_order_id}-{state}-{cum}",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        client_order_id=order.client_order_id,
        state=state,
        cum_qty=D(cum),
        last_qty=D(cum),
        last_price=D(price) if price is not None else order.price,
        fee=D("0.01") if D(cum) > 0 else D(0),
    )


def settings(**kw: Any) -> MarketMakerSettings:
    base: dict[str, Any] = {"qty": D("0.001"), "tick": D("0.01"), "edge_ticks": 1}
    base.update(kw)
    return MarketMakerSettings(**base)


async def started(ctx: FakeContext, **kw: Any) -> MarketMakerConsumer:
    mm = MarketMakerConsumer(settings(**kw))
    await mm.on_start(ctx)
    return mm


@pytest.mark.anyio
async def test_subscribes_to_its_venue_book_and_ticker() -> None:
    ctx = FakeContext()
    await started(ctx)
    assert ctx.subscribed == [
        (
            ("binance",),
            ("BTC-USDT",),
            (EventType.BOOK_SNAPSHOT, EventType.BOOK_UPDATE, EventType.TICKER),
        )
    ]


@pytest.mark.anyio
async def test_quotes_one_bid_and_one_ask_around_the_mid_with_unique_short_ids() -> None:
    ctx = FakeContext()
    mm = await started(ctx)
    await mm.on_event(book("100.00", "100.05"))  # mid 100.025
    assert [(o.side, o.price, o.qty) for o in ctx.orders] == [
        (Side.BUY, D("100.01"), D("0.001")),
        (Side.SELL, D("100.04"), D("0.001")),
    ]
    ids = [o.client_order_id for o in ctx.orders]
    assert len(set(ids)) == 2
    assert all(len(i) <= 18 for i in ids)
    assert all(o.consumer_id == "mm" and o.provider == "binance" for o in ctx.orders)
    # Same mid again: nothing new, nothing cancelled.
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 2
    assert ctx.cancels == []
    assert {o.state for o in mm.live.values()} == {"ACK"}


@pytest.mark.anyio
async def test_other_venues_and_unusable_books_are_ignored() -> None:
    ctx = FakeContext()
    mm = await started(ctx)
    await mm.on_event(book("100.00", "100.05", provider="kraken"))
    await mm.on_event(book("100.05", "100.00"))  # crossed: no mid
    assert ctx.orders == []
    assert mm.mid is None


@pytest.mark.anyio
async def test_cancel_replace_when_the_mid_moves_by_requote_ticks() -> None:
    ctx = FakeContext()
    mm = await started(ctx, requote_ticks=2)
    await mm.on_event(book("100.00", "100.02"))  # mid 100.01
    first = list(ctx.orders)
    update = BookUpdate(
        event_id="u1",
        provider="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        bids=(Level(D("100.00"), D(0)), Level(D("100.01"), D(1))),
    )
    await mm.on_event(update)  # mid 100.015: moved < 2 ticks
    assert ctx.cancels == []
    await mm.on_event(ticker("100.04", "100.06"))  # mid 100.05: moved 4 ticks
    assert [c.client_order_id for c in ctx.cancels] == [o.client_order_id for o in first]
    new = ctx.orders[2:]
    assert [(o.side, o.price) for o in new] == [(Side.BUY, D("100.04")), (Side.SELL, D("100.06"))]
    # The cancelled quotes leave once their CANCELLED reports arrive.
    for order in first:
        await mm.on_exec_report(report(order, ExecState.CANCELLED))
    assert set(mm.live) == {o.client_order_id for o in new}
    assert [mm.finished[o.client_order_id].state for o in first] == ["CANCELLED"] * 2


@pytest.mark.anyio
async def test_fills_update_position_cash_and_the_missing_side_is_requoted() -> None:
    ctx = FakeContext()
    mm = await started(ctx, max_position=D("0.001"))
    await mm.on_event(book("100.00", "100.05"))
    bid, ask = ctx.orders
    await mm.on_exec_report(report(bid, ExecState.FILLED, "0.001"))
    await mm.on_exec_report(report(bid, ExecState.FILLED, "0.001"))  # duplicate: no double count
    assert mm.position == D("0.001")
    assert mm.cash == D("-0.10001")
    assert mm.fills == 1
    assert mm.fees == D("0.01")
    assert mm.states_seen["FILLED"] == 2
    assert bid.client_order_id in mm.finished
    # At the position limit: the bid is not replaced, the ask stays.
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 2
    await mm.on_exec_report(report(ask, ExecState.PARTIAL, "0.0004", "100.04"))
    await mm.on_exec_report(report(ask, ExecState.FILLED, "0.001", "100.04"))
    assert mm.position == D(0)
    assert mm.live == {}
    await mm.on_event(book("100.00", "100.05"))
    assert [o.side for o in ctx.orders[2:]] == [Side.BUY, Side.SELL]


@pytest.mark.anyio
async def test_suppressed_orders_pause_quoting_until_the_pause_is_over() -> None:
    ctx = FakeContext(OrderStatus.SUPPRESSED)
    mm = await started(ctx, pause_s=1.0)
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 1  # stops after the first SUPPRESSED, no ask attempt
    assert mm.suppressed == 1
    assert mm.states_seen["SUPPRESSED"] == 1
    assert mm.live == {}
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 1  # still paused
    ctx.clock.advance(1.0)
    ctx.status = OrderStatus.ACCEPTED
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 3
    assert len(mm.live) == 2


@pytest.mark.anyio
async def test_rejections_pause_quoting_too() -> None:
    ctx = FakeContext(OrderStatus.REJECTED)
    mm = await started(ctx)
    await mm.on_event(book("100.00", "100.05"))
    await mm.on_event(book("100.00", "100.05"))
    assert len(ctx.orders) == 1
    assert mm.rejected == 1
    assert next(iter(mm.finished.values())).state == "REJECTED"


@pytest.mark.anyio
async def test_on_stop_cancels_live_quotes_once_and_a_refused_final_cancel_finishes() -> None:
    ctx = FakeContext()
    mm = await started(ctx)
    await mm.on_event(book("100.00", "100.05"))
    bid, ask = ctx.orders
    ctx.cancel_answer = CancelResult(
        client_order_id=bid.client_order_id, ok=False, reason="unknown", state=ExecState.FILLED
    )
    await mm.on_stop()
    await mm.on_stop()  # no second cancel for orders with one pending
    assert [c.client_order_id for c in ctx.cancels] == [bid.client_order_id, ask.client_order_id]
    # Both refused as already FILLED: they leave the live set, and a late fill still counts.
    assert mm.live == {}
    await mm.on_exec_report(report(bid, ExecState.FILLED, "0.001"))
    assert mm.position == D("0.001")


@pytest.mark.anyio
async def test_finished_history_is_bounded() -> None:
    ctx = FakeContext()
    mm = await started(ctx, history=3, requote_ticks=1)
    for i in range(5):
        await mm.on_event(book(f"{100 + i}.00", f"{100 + i}.05"))
        for order in ctx.orders[-2:]:
            await mm.on_exec_report(report(order, ExecState.CANCELLED))
    assert len(mm.finished) == 3
    assert list(mm.finished) == [o.client_order_id for o in ctx.orders[-3:]]

"""Gateway wiring: the book stage behind ProviderContext, venue call failures, the order
path built from registered order adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.config.models import GatewaySettings, OrdersSettings, Settings
from tradegw_core.contracts import BookOutput, StreamSpec
from tradegw_core.contracts_orders import SubmitAck
from tradegw_core.errors import VenueRejectedError
from tradegw_core.gateway import Gateway
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.control import SetTradingMode
from tradegw_core.schema.events import BookSnapshot, ExecReport, Level
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderStatus, Side
from tradegw_core.schema.symbols import Instrument, Symbol

from .conftest import FakeProvider, ProviderTracker, RecordingConsumer
from .test_gateway import make, sub


class SnapshotOnlyAssembler:
    """A minimal assembler: a snapshot message (a seq) becomes a BookSnapshot."""

    def __init__(self) -> None:
        self._synced = False
        self._book = OrderBook()

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def book(self) -> OrderBook:
        return self._book

    def reset(self) -> None:
        self._synced = False

    def apply_snapshot(self, msg: int, ts_ingest: int) -> Sequence[BookOutput]:
        self._synced = True
        return [
            BookSnapshot(
                event_id=f"fake:BTC-USDT:BookSnapshot:{msg}",
                provider="fake",
                symbol="BTC-USDT",
                venue_symbol="BTCUSDT",
                seq_provider=msg,
                ts_ingest=ts_ingest,
                bids=(Level(Decimal("99"), Decimal("1")),),
                asks=(Level(Decimal("101"), Decimal("2")),),
            )
        ]

    def apply_diff(self, msg: Any, ts_ingest: int) -> Sequence[BookOutput]:
        return []

    def reconcile(self, msg: Any) -> int:
        return 0


@pytest.mark.anyio
async def test_provider_context_book_stage_feeds_consumers() -> None:
    settings, regs, tracker, made = make()
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        ctx = venue.ctx
        assert ctx.provider_id == "fake"
        assert ctx.clock is gw.clock
        assert ctx.telemetry is gw.telemetry
        assert ctx.metrics is gw.metrics
        assert ctx.settings is None

        async def resync(symbol: Symbol, reason: Any) -> None:
            stage.on_snapshot(42, gw.clock.monotonic_ns())

        stage = ctx.book_stage(
            Symbol("BTC-USDT"), "BTCUSDT", SnapshotOnlyAssembler(), resync=resync
        )
        assert (await gw.request(sub(types=["BookSnapshot"]))).ok
        stage.on_snapshot(41, gw.clock.monotonic_ns())
        rec = made["rec"]
        with anyio.fail_after(1):
            await rec.wait_for(lambda c: len(c.events) == 1)
        snap = rec.events[0]
        assert isinstance(snap, BookSnapshot)
        assert snap.seq_provider == 41
        assert snap.asks == (Level(Decimal("101"), Decimal("2")),)


class PickyProvider(FakeProvider):
    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        if any(s.symbol == "ETH-USDT" for s in streams):
            raise VenueRejectedError("ETH-USDT is halted", venue="fake", code=-1121)
        await super().subscribe(streams)

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        raise VenueRejectedError("cannot unsubscribe now", venue="fake")


class PickyTracker(ProviderTracker):
    def __call__(self, ctx: Any) -> FakeProvider:
        provider = PickyProvider(ctx, self)
        self.instances.append(provider)
        return provider


@pytest.mark.anyio
async def test_a_venue_refusal_rolls_back_and_a_failed_unsubscribe_is_reported() -> None:
    settings, regs, tracker, _made = make(tracker=PickyTracker())
    async with Gateway(settings, regs) as gw:
        await tracker.wait_started(1)
        version = gw.dispatcher.routing_version
        ack = await gw.request(sub(symbols=["BTC-USDT", "ETH-USDT"]))
        assert not ack.ok
        assert "ETH-USDT is halted" in ack.error
        assert gw.subscriptions.streams_of("rec") == []  # rolled back
        assert gw.dispatcher.routing_version > version  # the table changed and changed back
        assert (await gw.request(sub())).ok
        ack = await gw.request(sub("unsubscribe"))
        assert ack.ok  # delivery stopped; the venue's refusal is reported, not an error
        assert gw.subscriptions.streams_of("rec") == []
        assert gw.telemetry.count("provider.unsubscribe_failed") == 1


class FakeAdapter:
    """A minimal OrderAdapter: accepts every order, reports an ACK on its user stream."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.emit: Any = None

    async def run(self, emit: Any, *, task_status: TaskStatus[None]) -> None:
        self.emit = emit
        task_status.started()
        await anyio.sleep_forever()

    def instruments(self) -> Mapping[Symbol, Instrument]:
        return {
            Symbol("BTC-USDT"): Instrument(
                provider="fake",
                symbol=Symbol("BTC-USDT"),
                venue_symbol="BTCUSDT",
                base="BTC",
                quote="USDT",
                price_step=Decimal("0.01"),
                qty_step=Decimal("0.001"),
            )
        }

    def validate_client_order_id(self, client_order_id: str) -> str | None:
        return None

    async def submit(self, order: OrderRequest) -> SubmitAck:
        return SubmitAck(client_order_id=order.client_order_id, venue_order_id="v1")

    async def cancel(self, request: CancelRequest) -> ExecReport | None:
        return None

    async def query(self, symbol: Symbol, client_order_id: str) -> ExecReport | None:
        return None


@pytest.mark.anyio
async def test_registered_order_adapters_get_an_order_service(tmp_path: Path) -> None:
    tracker = ProviderTracker()
    made: dict[str, RecordingConsumer] = {}
    regs = Registries()
    regs.providers.add("fake", tracker, plugin_id="test")
    regs.order_adapters.add("fake", FakeAdapter, plugin_id="test")
    regs.consumers.add("rec", lambda s: made.setdefault("rec", RecordingConsumer(s)))
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(providers=("fake",), consumers=("rec",)),
        orders=OrdersSettings(journal_path=str(tmp_path / "journal.sqlite3")),
    )
    async with Gateway(settings, regs) as gw:
        assert set(gw.orders.adapters) == {"fake"}
        assert gw.orders.service is not None
        ack = await gw.request(SetTradingMode(consumer_id="rec", enabled=True))
        assert ack.ok
        order = OrderRequest(
            client_order_id="o1",
            consumer_id="rec",
            provider="fake",
            symbol="BTC-USDT",
            side=Side.BUY,
            qty=Decimal("0.01"),
            price=Decimal("100"),
        )
        result = await gw.consumer_contexts["rec"].submit_order(order)
        assert result.status is OrderStatus.ACCEPTED, result.message
        assert gw.orders.supervisors["fake"].current is not None

"""Reconnects: market data resubscribes with a fresh snapshot; missed order reports are
recovered by query after the executions socket comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import anyio
import pytest
from tradegw_kraken.config import KrakenSettings
from tradegw_kraken.emulator import KrakenEmulator
from tradegw_kraken.orders import KrakenOrderAdapter
from tradegw_kraken.provider import KrakenProvider

from tradegw_core.clock import SystemClock
from tradegw_core.contracts import StreamSpec
from tradegw_core.schema.events import (
    BookSnapshot,
    EventType,
    ExecReport,
    ExecState,
    Side,
    Trade,
)
from tradegw_core.schema.orders import CancelRequest, OrderRequest
from tradegw_core.schema.symbols import Symbol
from tradegw_core.sim.emulator import EmulatorConfig
from tradegw_core.sim.faults import Close, Stall
from tradegw_core.sim.market import SimTrade
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import EventRecorder

pytestmark = pytest.mark.anyio
BTC = Symbol("BTC-USD")


@pytest.fixture
async def emu() -> AsyncIterator[KrakenEmulator]:
    config = EmulatorConfig(venue="kraken", symbols=("BTC-USD",), seed=8, rate=0.001)
    async with KrakenEmulator(config) as emulator:
        yield emulator


def _settings(emu: KrakenEmulator) -> KrakenSettings:
    settings: KrakenSettings = emu.client_settings(reconnect_min_s=0.0, heartbeat_timeout_s=30.0)
    return settings


async def test_book_resubscribes_after_a_dropped_socket(emu: KrakenEmulator) -> None:
    ctx = RecordingProviderContext("kraken", _settings(emu))
    sink, stages = ctx.events, ctx.book_stage
    async with ctx.running(KrakenProvider(ctx)) as provider:
        await provider.subscribe([StreamSpec(BTC, EventType.BOOK_UPDATE)])
        await sink.until(lambda: any(isinstance(e, BookSnapshot) for e in sink.items))
        emu.faults.ws(Close(1011, "maintenance"), match=lambda c, f: '"heartbeat"' in str(f))
        await sink.until(lambda: sum(isinstance(e, BookSnapshot) for e in sink.items) >= 2)
        resyncs = [lab for name, lab in sink.telemetry if name == "book.resync"]
        assert resyncs == [{"provider": "kraken", "symbol": BTC, "reason": "reconnect"}]
        stage = stages.get(BTC)
        assert stage is not None
        assert stage.assembler.book.top_bids() == emu.books["BTC-USD"].top("bids", 10)


async def test_missed_cancel_is_recovered_after_reconnect(emu: KrakenEmulator) -> None:
    reports = EventRecorder()
    adapter = KrakenOrderAdapter(_settings(emu), clock=SystemClock())
    async with anyio.create_task_group() as tg:
        await tg.start(adapter.run, reports)
        price = emu.books["BTC-USD"].top("bids", 1)[0].price - Decimal("25")
        order = OrderRequest(
            client_order_id="tg-miss-1",
            consumer_id="c",
            provider="kraken",
            symbol=BTC,
            side=Side.BUY,
            qty=Decimal("0.01"),
            price=price,
        )
        await adapter.submit(order)
        await reports.until(lambda: len(reports.items) == 1)
        # The socket dies instead of delivering the cancel report: it is lost on the wire.
        emu.faults.ws(Close(1011, "lost"), match=lambda c, f: '"exec_type":"canceled"' in str(f))
        await adapter.cancel(CancelRequest(client_order_id="tg-miss-1", consumer_id="c",
                                           provider="kraken", symbol=BTC))  # fmt: skip
        await reports.until(lambda: len(reports.items) == 2)
        final: ExecReport = reports.items[-1]
        assert final.state is ExecState.CANCELLED
        assert final.client_order_id == "tg-miss-1"
        assert [r.state for r in reports.items] == [ExecState.ACK, ExecState.CANCELLED]
        tg.cancel_scope.cancel()


async def test_silent_socket_is_declared_stale_and_replaced(emu: KrakenEmulator) -> None:
    settings = _settings(emu).model_copy(update={"heartbeat_timeout_s": 1.0})
    ctx = RecordingProviderContext("kraken", settings)
    sink = ctx.events
    async with ctx.running(KrakenProvider(ctx)) as provider:
        await provider.subscribe([StreamSpec(BTC, EventType.TRADE)])
        (first,) = emu.connections
        # The venue keeps the socket open but sends nothing, not even heartbeats.
        emu.faults.ws(Stall(), match=lambda conn, f: conn.id == first, count=None)
        await sink.until(lambda: any(name == "ws.stale" for name, _ in sink.telemetry))
        await sink.until(lambda: any(name == "ws.resubscribed" for name, _ in sink.telemetry))
        (second,) = [c for c in emu.connections if c != first]
        assert BTC in emu.connections[second].state.trades
        while not any(isinstance(e, SimTrade) for e in emu.sim.step()):
            pass
        await sink.until(lambda: any(isinstance(e, Trade) for e in sink.items))

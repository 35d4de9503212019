"""The public test helpers for plugin authors: recorders, the provider context, harnesses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from tradegw_core.book.stage import BookStages
from tradegw_core.clock import FakeClock
from tradegw_core.errors import PluginLoadError
from tradegw_core.plugin.hookspecs import hookimpl
from tradegw_core.schema.events import EventType, Trade, make_event_id
from tradegw_core.testing.harness import gateway_harness
from tradegw_core.testing.plugins import modules_pulled_in, registries_for
from tradegw_core.testing.provider import RecordingProviderContext
from tradegw_core.testing.recorders import EventRecorder, RecordingConsumer, TelemetryRecorder

pytestmark = pytest.mark.anyio


def _trade(n: int, symbol: str = "BTC-USD") -> Trade:
    return Trade(
        event_id=make_event_id("fake", symbol, EventType.TRADE, n),
        provider="fake",
        symbol=symbol,
        venue_symbol=symbol,
        seq_provider=n,
        ts_ingest=0,
        trade_id=str(n),
        price=Decimal("100"),
        qty=Decimal("1"),
    )


def test_telemetry_recorder_keeps_names_and_labels_in_order() -> None:
    rec = TelemetryRecorder()
    rec.emit("book.resync", symbol="BTC-USD", reason="gap")
    rec.emit("ws.reconnect")
    rec.emit("book.resync", symbol="ETH-USD", reason="checksum")
    assert [name for name, _ in rec.events] == ["book.resync", "ws.reconnect", "book.resync"]
    assert [labels["reason"] for labels in rec.named("book.resync")] == ["gap", "checksum"]
    assert rec.named("missing") == []


def test_event_recorder_separates_items_from_telemetry_and_filters() -> None:
    rec = EventRecorder()
    btc, eth = _trade(1), _trade(2, "ETH-USD")
    rec(btc)
    rec.emit(eth)
    rec.emit("checksum.failed", symbol="BTC-USD")
    rec("a report")
    assert rec.items == [btc, eth, "a report"]
    assert rec.of(Trade) == [btc, eth]
    assert rec.of(Trade, "ETH-USD") == [eth]
    assert rec.of(str) == ["a report"]
    assert rec.named("checksum.failed") == [{"symbol": "BTC-USD"}]


async def test_until_returns_at_once_when_the_condition_already_holds() -> None:
    rec = EventRecorder()
    rec(_trade(1))
    with anyio.fail_after(1):
        await rec.until(lambda: len(rec.items) == 1)


async def test_until_wakes_on_each_record_from_another_task() -> None:
    rec = EventRecorder()

    async def producer() -> None:
        for n in range(3):
            await anyio.lowlevel.checkpoint()
            rec(_trade(n))
        rec.emit("done")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(producer)
            await rec.until(lambda: len(rec.items) >= 2)
            await rec.until(lambda: bool(rec.named("done")))
    assert [t.trade_id for t in rec.of(Trade)] == ["0", "1", "2"]


async def test_until_fails_after_its_bound_when_nothing_comes() -> None:
    rec = TelemetryRecorder()
    with pytest.raises(TimeoutError):
        await rec.until(lambda: bool(rec.events), within_s=0.05)


class _FakeProvider:
    """Emits one trade and one telemetry event once running; remembers its cancellation."""

    def __init__(self, ctx: RecordingProviderContext) -> None:
        self.ctx = ctx
        self.cancelled = False

    async def run(self, *, task_status: TaskStatus[None]) -> None:
        task_status.started()
        self.ctx.emit(_trade(7))
        self.ctx.telemetry.emit("ws.connected", provider=self.ctx.provider_id)
        try:
            await anyio.sleep_forever()
        finally:
            self.cancelled = True


async def test_recording_provider_context_runs_a_provider_with_real_book_stages() -> None:
    clock = FakeClock()
    ctx = RecordingProviderContext("fake", {"x": 1}, clock=clock)
    assert isinstance(ctx.book_stage, BookStages)
    assert (ctx.provider_id, ctx.settings, ctx.clock, ctx.metrics) == (
        "fake",
        {"x": 1},
        clock,
        None,
    )
    with anyio.fail_after(5):
        async with ctx.running(_FakeProvider(ctx)) as provider:
            await ctx.events.until(lambda: bool(ctx.events.named("ws.connected")))
            assert [t.trade_id for t in ctx.events.of(Trade)] == ["7"]
            assert not provider.cancelled
    assert provider.cancelled


async def test_recording_provider_context_can_keep_telemetry_apart() -> None:
    telemetry = TelemetryRecorder()
    ctx = RecordingProviderContext("fake", None, telemetry=telemetry)
    with anyio.fail_after(5):
        async with ctx.running(_FakeProvider(ctx)):
            await telemetry.until(lambda: bool(telemetry.named("ws.connected")))
    assert telemetry.named("ws.connected") == [{"provider": "fake"}]
    assert ctx.events.telemetry == []


async def test_harness_runs_test_consumers_and_keeps_their_subscription_ack() -> None:
    plain = RecordingConsumer()
    subscriber = RecordingConsumer(["nowhere"], ["BTC-USD"], [EventType.TRADE])
    config = {
        "gateway": {"consumers": ["plain", "subscriber"]},
        "metrics": {"enabled": False},
    }
    consumers: dict[str, Any] = {"plain": plain, "subscriber": subscriber}
    with anyio.fail_after(10):
        async with gateway_harness(config, consumers=consumers) as gw:
            await subscriber.until(lambda: subscriber.ack is not None)
            await plain.until(lambda: plain.ctx is not None)
            assert plain.ack is None  # no subscription asked for
            assert not subscriber.ack.ok
            assert "nowhere" in subscriber.ack.error
            assert gw.settings.gateway.consumers == ("plain", "subscriber")
    assert plain.stopped
    assert subscriber.stopped


class _TinyPlugin:
    """Registers one provider factory."""

    @hookimpl
    def tradegw_register_providers(self, registry: Any, plugin_id: str) -> None:
        registry.add("tiny", object, plugin_id=plugin_id)


class _BrokenPlugin:
    @hookimpl
    def tradegw_register_consumers(self, registry: Any, plugin_id: str) -> None:
        raise RuntimeError("boom")


def test_registries_for_fills_registries_through_the_plugin_manager() -> None:
    regs = registries_for(_TinyPlugin(), "tiny-plugin")
    assert regs.providers.get("tiny") is object
    assert regs.providers.owner("tiny") == "tiny-plugin"
    assert "tiny" not in regs.consumers
    with pytest.raises(PluginLoadError, match="boom"):
        registries_for(_BrokenPlugin(), "broken")


def test_modules_pulled_in_names_only_the_loaded_candidates() -> None:
    pulled = modules_pulled_in("tradegw_core.testing.plugins", ("pluggy", "not_a_module_xyz"))
    assert pulled == ["pluggy"]


def test_replayed_book_is_the_last_snapshot_with_later_updates() -> None:
    from decimal import Decimal as D

    from tradegw_core.schema.events import BookSnapshot, BookUpdate, Level
    from tradegw_core.testing.books import replayed_book

    def snap(bid: str) -> BookSnapshot:
        return BookSnapshot(
            event_id=bid, provider="p", symbol="A-B", venue_symbol="AB",
            bids=(Level(D(bid), D(1)),), asks=(Level(D(9), D(1)),),
        )  # fmt: skip

    update = BookUpdate(
        event_id="u", provider="p", symbol="A-B", venue_symbol="AB",
        bids=(Level(D(2), D(0)), Level(D(3), D(5))), asks=(),
    )  # fmt: skip
    book = replayed_book([snap("1"), update, snap("2"), "not an event", update])
    assert book.bids == {D(3): D(5)}  # the update removed 2, the first snapshot is gone
    assert book.asks == {D(9): D(1)}
    with pytest.raises(ValueError, match="no BookSnapshot"):
        replayed_book([update])

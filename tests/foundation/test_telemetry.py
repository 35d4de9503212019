"""The ops-only telemetry bus: never blocks, bounded ring, counted, drop-oldest subscribers."""

from __future__ import annotations

import anyio
import pytest

from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.clock import FakeClock
from tradegw_core.contracts import ConsumerContext, Telemetry
from tradegw_core.errors import TradegwError
from tradegw_core.observability.metrics import Metrics


def test_emit_records_ring_counts_and_metric(fake_clock: FakeClock) -> None:
    metrics = Metrics()
    bus = TelemetryBus(clock=fake_clock, metrics=metrics, ring_size=3)
    telemetry: Telemetry = bus

    for i in range(5):
        fake_clock.advance(1)
        telemetry.emit("book.resync", provider="kraken", symbol="BTC-USD", reason="gap", n=i)
    bus.emit("order.duplicate", consumer="c1")

    recent = bus.recent()
    assert [e.seq for e in recent] == [4, 5, 6]  # bounded ring keeps the newest
    assert recent[0].labels == {
        "provider": "kraken",
        "symbol": "BTC-USD",
        "reason": "gap",
        "n": "3",
    }
    assert recent[1].ts_ns - recent[0].ts_ns == 1_000_000_000
    assert [e.name for e in bus.recent(name="book.resync")] == ["book.resync"] * 2
    assert bus.recent(1)[0].name == "order.duplicate"
    assert bus.recent(0) == []
    assert [e.seq for e in bus] == [4, 5, 6]
    assert bus.count("book.resync") == 5
    assert bus.counts() == {
        "book.resync": 5,
        "order.duplicate": 1,
    }
    assert metrics.value("tradegw_telemetry_events_total", name="book.resync") == 5.0


def test_names_are_bounded() -> None:
    bus = TelemetryBus(max_names=2)
    for name in ("a", "b", "c", "d"):
        bus.emit(name)
    assert bus.counts() == {"a": 1, "b": 1, "_other_": 2}


@pytest.mark.anyio
async def test_subscriber_receives_events_and_lagging_one_drops_oldest() -> None:
    metrics = Metrics()
    bus = TelemetryBus(metrics=metrics)

    async with bus.subscribe("api", buffer=2) as sub:
        for i in range(5):
            bus.emit("late_event.dropped", n=i)  # never blocks although nobody reads
        got = [sub.receive_nowait(), sub.receive_nowait(), sub.receive_nowait()]

    assert [e.labels["n"] for e in got if e is not None] == ["3", "4"]
    assert got[2] is None
    assert sub.dropped == 3
    assert metrics.value("tradegw_telemetry_dropped_total", subscriber="api") == 3.0
    assert bus.subscriber_count == 0
    bus.emit("after.close")  # a closed subscription is gone, emit still fine


@pytest.mark.anyio
async def test_async_iteration_ends_when_the_bus_closes() -> None:
    bus = TelemetryBus()
    received: list[str] = []
    sub = bus.subscribe("view", buffer=8)

    async def reader() -> None:
        async for event in sub:
            received.append(event.name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            bus.emit("one")
            bus.emit("two")
            await anyio.wait_all_tasks_blocked()
            bus.close()

    assert received == ["one", "two"]


def test_subscription_limits_and_arguments() -> None:
    bus = TelemetryBus(max_subscribers=1)
    first = bus.subscribe("a")
    with pytest.raises(TradegwError, match="subscribers already"):
        bus.subscribe("b")
    with pytest.raises(ValueError, match="buffer"):
        bus.subscribe("c", buffer=0)
    first.close()
    bus.subscribe("b").close()
    with pytest.raises(ValueError, match="ring_size"):
        TelemetryBus(ring_size=0)


def test_a_subscription_closed_behind_the_bus_is_dropped() -> None:
    bus = TelemetryBus()
    sub = bus.subscribe("x")
    sub._send.close()  # e.g. torn down by its owner without telling the bus

    bus.emit("e")

    assert bus.subscriber_count == 0


def test_consumers_have_no_way_to_the_telemetry_bus() -> None:
    members = {name for name in dir(ConsumerContext) if not name.startswith("_")}
    assert not any("telemetry" in name for name in members)

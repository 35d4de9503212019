"""The gateway in-process: a fake Provider and a recording consumer, no network."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import anyio
import pytest

from tradegw_core.config.models import (
    DispatcherSettings,
    GatewaySettings,
    MetricsSettings,
    Settings,
)
from tradegw_core.contracts import StreamSpec
from tradegw_core.gateway import Gateway
from tradegw_core.orchestrator.supervisor import Backoff
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.control import SetTradingMode, Subscribe
from tradegw_core.schema.events import EventType
from tradegw_core.schema.orders import CancelRequest, OrderRequest, OrderStatus, Side
from tradegw_core.schema.symbols import Symbol

from .conftest import ProviderTracker, RecordingConsumer, trade

FAST = Backoff(base_s=0.01, cap_s=0.05)


def make(
    *,
    consumers: tuple[str, ...] = ("rec",),
    required: tuple[str, ...] = (),
    tracker: ProviderTracker | None = None,
    **dispatcher: Any,
) -> tuple[Settings, Registries, ProviderTracker, dict[str, RecordingConsumer]]:
    tracker = tracker or ProviderTracker()
    made: dict[str, RecordingConsumer] = {}
    regs = Registries()
    regs.providers.add("fake", tracker, plugin_id="test")
    for name in consumers:

        def factory(settings: Any, name: str = name) -> RecordingConsumer:
            made[name] = RecordingConsumer(settings)
            return made[name]

        regs.consumers.add(name, factory, plugin_id="test")
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(
            providers=("fake",), consumers=consumers, required_providers=required
        ),
        dispatcher=DispatcherSettings(**dispatcher),
        metrics=MetricsSettings(enabled=False),
    )
    return settings, regs, tracker, made


def sub(kind: str = "subscribe", **over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "kind": kind,
        "consumer_id": "rec",
        "providers": ["fake"],
        "symbols": ["BTC-USDT"],
        "types": ["Trade"],
    }
    msg.update(over)
    return msg


BTC_TRADES = [StreamSpec(Symbol("BTC-USDT"), EventType.TRADE)]


@pytest.mark.anyio
async def test_subscribe_delivers_and_unsubscribe_stops() -> None:
    settings, regs, tracker, made = make(consumers=("rec", "other"))
    async with Gateway(settings, regs, restart_backoff=FAST) as gw:
        venue = await tracker.wait_started(1)
        rec = made["rec"]
        ack = await gw.request(sub())
        assert ack.ok
        assert ack.routing_version == 1
        assert venue.subscribed == [BTC_TRADES]  # first consumer: the venue subscribes
        again = await gw.request(sub())
        assert again.ok
        assert again.routing_version == 1  # idempotent: nothing changed
        assert (await gw.request(sub(consumer_id="other"))).ok
        assert venue.subscribed == [BTC_TRADES]  # not the first consumer: no venue call

        with anyio.fail_after(1):
            venue.emit(trade(1))
            venue.emit(trade(2))
            await rec.wait_for(lambda c: len(c.events) == 2)
        assert [e.seq_provider for e in rec.events] == [1, 2]
        assert rec.events[0].routing_version == 2
        assert rec.events[0].trace_id

        assert (await gw.request(sub(symbols=["ETH-USDT"]))).ok
        assert (await gw.request(sub("unsubscribe"))).ok
        assert venue.unsubscribed == []  # "other" still wants BTC trades
        with anyio.fail_after(1):
            venue.emit(trade(3))
            venue.emit(trade(7, symbol="ETH-USDT"))  # a marker behind the BTC trade
            await rec.wait_for(lambda c: c.events[-1].symbol == "ETH-USDT")
        assert [e.seq_provider for e in rec.events] == [1, 2, 7]  # no BTC trade 3
        assert [e.seq_provider for e in made["other"].events] == [1, 2, 3]

        assert (await gw.request(sub("unsubscribe", consumer_id="other"))).ok
        assert venue.unsubscribed == [BTC_TRADES]  # the last consumer left
        assert gw.subscriptions.streams_of("other") == []
        assert [k.symbol for k in gw.consumer_contexts["rec"].subscriptions()] == ["ETH-USDT"]
    assert made["rec"].stopped
    assert made["other"].stopped


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("msg", "error"),
    [
        (sub(providers=["nope"]), "unknown provider 'nope' (providers: fake)"),
        (sub(symbols=["DOGE-USDT"]), "unknown symbol(s) DOGE-USDT on provider 'fake'"),
        (sub(types=["Ticker"]), "type(s) Ticker not supported by provider 'fake'"),
        (sub(types=["ExecReport"]), "cannot be subscribed"),
        (sub(consumer_id="ghost"), "unknown consumer 'ghost'"),
        (sub(types=["Sideways"]), "malformed control message"),
        (b'{"kind": "subscribe"', "malformed control message"),
        (sub("unsubscribe", providers=["nope"]), "unknown provider 'nope'"),
        (
            {
                "kind": "merged_subscribe",
                "consumer_id": "rec",
                "symbol": "BTC-USDT",
                "type": "Trade",
                "providers": ["fake", "x"],
            },
            "unknown provider 'x' (providers: fake)",
        ),
        (SetTradingMode(enabled=False), "trading is not configured"),
    ],
)
async def test_bad_control_input_gets_an_error_ack_and_changes_nothing(
    msg: Any, error: str
) -> None:
    settings, regs, tracker, _made = make()
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        assert (await gw.request(sub(symbols=["ETH-USDT"]))).ok
        version = gw.dispatcher.routing_version
        before = gw.subscriptions.streams_of("rec")
        ack = await gw.request(msg)
        assert not ack.ok
        assert error in ack.error
        assert gw.dispatcher.routing_version == version
        assert gw.subscriptions.streams_of("rec") == before
        assert len(venue.subscribed) == 1
        assert venue.unsubscribed == []


@pytest.mark.anyio
async def test_a_crashing_provider_is_restarted_resubscribed_and_reported() -> None:
    settings, regs, tracker, made = make()
    async with Gateway(settings, regs, restart_backoff=FAST) as gw:
        first = await tracker.wait_started(1)
        assert (await gw.request(sub())).ok
        with anyio.fail_after(1):
            first.crash.set()
            second = await tracker.wait_started(2)
            while not second.subscribed:
                await anyio.wait_all_tasks_blocked()
        assert second is not first
        assert second.subscribed == [BTC_TRADES]  # what consumers wanted, on the new one
        failures = gw.telemetry.recent(name="provider.failed")
        assert len(failures) == 1
        assert failures[0].labels["provider"] == "fake"
        assert "connection lost for good" in failures[0].labels["error"]
        assert gw.providers["fake"].restarts == 1
        with anyio.fail_after(1):
            second.emit(trade(1))  # seqs start over on the new instance
            await made["rec"].wait_for(lambda c: len(c.events) == 1)


@pytest.mark.anyio
async def test_an_optional_provider_that_cannot_start_does_not_stop_the_gateway() -> None:
    settings, regs, _tracker, _made = make(tracker=ProviderTracker(fail_on_start=True))
    async with Gateway(settings, regs, restart_backoff=FAST) as gw:
        with anyio.fail_after(2):
            await gw.providers["fake"].until(lambda sup: sup.restarts >= 1)
        # Accepted as pending (routed now, served once it runs), the reason in the Ack.
        ack = await gw.request(sub())
        assert ack.ok, ack.error
        assert "not running yet" in ack.pending["fake"]
        assert "venue unreachable" in ack.pending["fake"]


@pytest.mark.anyio
async def test_consumer_context_logs_with_trace_id_and_refuses_orders_without_trading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, regs, tracker, made = make()
    async with Gateway(settings, regs) as gw:
        ctx = gw.consumer_contexts["rec"]
        assert ctx.consumer_id == "rec"
        assert ctx.clock is gw.clock
        assert ctx.metrics is gw.metrics
        assert ctx.settings is None
        ack = await ctx.subscribe(["fake"], ["BTC-USDT"], [EventType.TRADE])
        assert ack.ok
        venue = await tracker.wait_started(1)
        with anyio.fail_after(1):
            venue.emit(trade(1))
            await made["rec"].wait_for(lambda c: len(c.events) == 1)
        with caplog.at_level(logging.INFO, logger="tradegw.consumer.rec"):
            ctx.log.info("saw it")
        assert caplog.records[-1].trace_id == made["rec"].events[0].trace_id  # type: ignore[attr-defined]
        assert caplog.records[-1].consumer_id == "rec"  # type: ignore[attr-defined]
        order = OrderRequest(
            client_order_id="o1",
            consumer_id="rec",
            provider="fake",
            symbol="BTC-USDT",
            side=Side.BUY,
            qty=Decimal("1"),
            price=Decimal("100"),
        )
        result = await ctx.submit_order(order)
        assert result.status is OrderStatus.REJECTED
        assert "trading is not configured" in result.message
        foreign = await ctx.submit_order(order.model_copy(update={"consumer_id": "x"}))
        assert "is not this consumer" in foreign.message
        cancel = await ctx.cancel_order(
            CancelRequest(
                client_order_id="o1", consumer_id="rec", provider="fake", symbol="BTC-USDT"
            )
        )
        assert not cancel.ok
        assert cancel.reason == "trading_not_configured"
        assert (await ctx.unsubscribe(["fake"], ["BTC-USDT"], ["Trade"])).ok


@pytest.mark.anyio
async def test_an_order_service_is_used_when_injected() -> None:
    class Orders:
        async def submit(self, order: OrderRequest) -> Any:
            from tradegw_core.schema.orders import OrderResult

            return OrderResult(client_order_id=order.client_order_id, status=OrderStatus.ACCEPTED)

        async def cancel(self, request: CancelRequest) -> Any:
            from tradegw_core.schema.orders import CancelResult

            return CancelResult(client_order_id=request.client_order_id, ok=True)

    settings, regs, _tracker, _made = make()
    async with Gateway(settings, regs, order_service=Orders()) as gw:
        ctx = gw.consumer_contexts["rec"]
        order = OrderRequest(
            client_order_id="o1",
            consumer_id="rec",
            provider="fake",
            symbol="BTC-USDT",
            side=Side.SELL,
            qty=Decimal("1"),
            price=Decimal("100"),
        )
        assert (await ctx.submit_order(order)).status is OrderStatus.ACCEPTED
        cancel = CancelRequest(
            client_order_id="o1", consumer_id="rec", provider="fake", symbol="BTC-USDT"
        )
        assert (await ctx.cancel_order(cancel)).ok


@pytest.mark.anyio
async def test_subscribe_model_messages_work_too() -> None:
    settings, regs, _tracker, _made = make()
    async with Gateway(settings, regs) as gw:
        ack = await gw.request(
            Subscribe(
                consumer_id="rec",
                providers=("fake",),
                symbols=("BTC-USDT",),
                types=(EventType.TRADE,),
            )
        )
        assert ack.ok

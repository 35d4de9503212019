"""An error Ack means nothing changed, even when the venue is slower than the client's patience.

The gateway's control timeout (what a client waits for its Ack) is shorter than the venue
call timeout. A request the client gave up on must not be carried out afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from tradegw_core.bus.control import AnyControl, ControlBus
from tradegw_core.contracts import ProviderContext, StreamSpec
from tradegw_core.gateway import Gateway
from tradegw_core.schema.control import Ack

from .conftest import FakeProvider, ProviderTracker, trade
from .test_gateway import BTC_TRADES, FAST, make, sub


class SlowProvider(FakeProvider):
    """A venue whose (un)subscribe confirmations wait until the test releases them."""

    def __init__(self, ctx: ProviderContext, tracker: SlowTracker) -> None:
        super().__init__(ctx, tracker)
        self.slow = tracker
        self.calls: list[str] = []

    async def subscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Confirm only once released (or forever slow when cancelled before)."""
        self.calls.append("subscribe")
        if self.slow.slow_subscribe:
            await self.slow.release.wait()
        await super().subscribe(streams)

    async def unsubscribe(self, streams: Sequence[StreamSpec]) -> None:
        """Confirm only once released, when so configured."""
        self.calls.append("unsubscribe")
        if self.slow.slow_unsubscribe:
            await self.slow.release.wait()
        await super().unsubscribe(streams)


class SlowTracker(ProviderTracker):
    """Builds SlowProviders."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()
        self.slow_subscribe = False
        self.slow_unsubscribe = False

    def __call__(self, ctx: ProviderContext) -> FakeProvider:
        provider = SlowProvider(ctx, self)
        self.instances.append(provider)
        return provider


async def _drain(gw: Gateway) -> None:
    """Wait until the control task has finished everything queued before this call."""
    ack = await gw.request(sub(providers=["nope"]))
    assert "unknown provider" in ack.error


@pytest.mark.anyio
async def test_a_subscribe_the_client_gave_up_on_is_rolled_back_on_the_venue() -> None:
    tracker = SlowTracker()
    tracker.slow_subscribe = True
    settings, regs, _, made = make(tracker=tracker)
    async with Gateway(
        settings, regs, restart_backoff=FAST, control_timeout=0.1, provider_call_timeout=10
    ) as gw:
        with anyio.fail_after(5):
            venue = await tracker.wait_started(1)
            ack = await gw.request(sub())
            assert not ack.ok  # the venue did not confirm within the client's 0.1 s
            tracker.release.set()  # the venue's confirmation would come now
            await _drain(gw)
        assert venue.subscribed == []  # the slow call was cut at the request's deadline
        assert venue.unsubscribed == [BTC_TRADES]  # and undone on the venue
        assert gw.subscriptions.streams_of("rec") == []
        assert gw.subscriptions.routing_version in (0, 2)  # added and removed, or never
        venue.emit(trade(1))
        assert gw.dispatcher.stats.unrouted == 1  # nobody gets the stream
    assert made["rec"].events == []


@pytest.mark.anyio
async def test_an_unsubscribe_the_client_gave_up_on_restores_the_routes() -> None:
    tracker = SlowTracker()
    settings, regs, _, made = make(tracker=tracker)
    async with Gateway(
        settings, regs, restart_backoff=FAST, control_timeout=0.1, provider_call_timeout=10
    ) as gw:
        with anyio.fail_after(5):
            venue = await tracker.wait_started(1)
            assert (await gw.request(sub())).ok
            tracker.slow_unsubscribe = True
            ack = await gw.request(sub("unsubscribe"))
            assert not ack.ok
            tracker.slow_unsubscribe = False
            await _drain(gw)
            assert [k.symbol for k in gw.subscriptions.streams_of("rec")] == ["BTC-USDT"]
            assert venue.subscribed == [BTC_TRADES, BTC_TRADES]  # re-subscribed on the venue
            venue.emit(trade(1))
            await made["rec"].wait_for(lambda c: len(c.events) == 1)


@pytest.mark.anyio
async def test_a_request_abandoned_while_queued_is_never_handled() -> None:
    bus = ControlBus(timeout=0.1)
    handled: list[str] = []
    release = anyio.Event()
    busy = anyio.Event()
    deadlines: list[float] = []

    async def handler(msg: AnyControl, deadline: float) -> Ack:
        handled.append(msg.request_id)
        deadlines.append(deadline)
        if msg.request_id == "first":
            busy.set()
            await release.wait()
        return Ack(request_id=msg.request_id, ok=True)

    async with anyio.create_task_group() as tg:
        await tg.start(bus.serve, handler)
        with anyio.fail_after(5):
            first = anyio.Event()

            async def send_first() -> None:
                before = anyio.current_time()
                ack = await bus.request(sub(request_id="first"))
                assert not ack.ok
                assert "no answer within 0.1 s" in ack.error
                assert before + 0.1 <= deadlines[0] <= anyio.current_time()
                first.set()

            tg.start_soon(send_first)
            await busy.wait()
            second = await bus.request(sub(request_id="second"))  # queued behind "first"
            assert not second.ok
            assert "no answer" in second.error
            await first.wait()
            release.set()
            bus.timeout = 1.0
            third = await bus.request(sub(request_id="third"))
        tg.cancel_scope.cancel()
    assert third.ok
    assert handled == ["first", "third"]  # "second" was skipped: its client gave up

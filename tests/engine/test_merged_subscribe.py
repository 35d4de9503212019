"""MergedSubscribe / MergedUnsubscribe on a real Gateway: two fake venues, a fake clock.

The gateway's own clock tick closes the windows: the test moves the fake clock and waits
(bounded) for what the consumers receive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from tradegw_core.clock import FakeClock
from tradegw_core.config.models import (
    ApiSettings,
    GatewaySettings,
    MergeSettings,
    MetricsSettings,
    Settings,
)
from tradegw_core.contracts import StreamSpec
from tradegw_core.gateway import Gateway
from tradegw_core.orchestrator.windows import MergeKey
from tradegw_core.plugin.registries import Registries
from tradegw_core.schema.events import EventType, MergedEvent, Trade, make_event_id
from tradegw_core.schema.symbols import Symbol

from .conftest import FakeProvider, ProviderTracker, RecordingConsumer

MS = 1_000_000
TOKEN = "merge-test-token"
BTC_TRADES = [StreamSpec(Symbol("BTC-USDT"), EventType.TRADE)]
KEY = MergeKey("BTC-USDT", EventType.TRADE)


class Setup:
    def __init__(self, gw: Gateway, venues: dict[str, FakeProvider], made: dict[str, Any]):
        self.gw = gw
        self.venues = venues
        self.made: dict[str, RecordingConsumer] = made
        self.clock: FakeClock = gw.clock  # type: ignore[assignment]
        self.n = 0

    def trade(self, provider: str, at_ms: int = 0) -> None:
        self.n += 1
        self.venues[provider].emit(
            Trade(
                event_id=make_event_id(provider, "BTC-USDT", EventType.TRADE, self.n),
                provider=provider,
                symbol="BTC-USDT",
                venue_symbol="BTCUSDT",
                seq_provider=self.n,
                ts_exchange=self.clock.time_ns() + at_ms * MS,
                trade_id=str(self.n),
                price=Decimal("100.5"),
                qty=Decimal(1),
            )
        )

    def merged(self, consumer: str) -> list[MergedEvent]:
        return [e for e in self.made[consumer].events if isinstance(e, MergedEvent)]


@asynccontextmanager
async def gateway(*, api: bool = False) -> AsyncIterator[Setup]:
    trackers = {"fake": ProviderTracker(), "fake2": ProviderTracker()}
    made: dict[str, RecordingConsumer] = {}
    regs = Registries()
    for name, tracker in trackers.items():
        regs.providers.add(name, tracker, plugin_id="test")
    for name in ("rec", "other"):

        def factory(settings: Any, name: str = name) -> RecordingConsumer:
            made[name] = RecordingConsumer(settings)
            return made[name]

        regs.consumers.add(name, factory, plugin_id="test")
    regs.freeze()
    settings = Settings(
        gateway=GatewaySettings(providers=tuple(trackers), consumers=("rec", "other")),
        metrics=MetricsSettings(enabled=False),
        merge=MergeSettings(allowed_skew_ms=50),
        api=ApiSettings(enabled=api, port=0, token=TOKEN if api else None),
    )
    with anyio.fail_after(10):
        async with Gateway(settings, regs, clock=FakeClock()) as gw:
            venues = {name: await t.wait_started(1) for name, t in trackers.items()}
            yield Setup(gw, venues, made)


def merged_sub(**over: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "kind": "merged_subscribe",
        "consumer_id": "rec",
        "symbol": "BTC-USDT",
        "type": "Trade",
        "providers": ["fake", "fake2"],
        "window_ms": 100,
        "max_count": 50,
    }
    msg.update(over)
    return msg


@pytest.mark.anyio
async def test_consumers_share_one_merge_and_get_merged_events_of_complete_windows() -> None:
    async with gateway() as s:
        ctx = s.gw.consumer_contexts["rec"]
        ack = await ctx.merged_subscribe(
            "BTC-USDT", EventType.TRADE, ["fake", "fake2"], window_ms=100, max_count=50
        )
        assert ack.ok, ack.error
        assert s.venues["fake"].subscribed == [BTC_TRADES]
        assert s.venues["fake2"].subscribed == [BTC_TRADES]
        ack = await s.gw.consumer_contexts["other"].merged_subscribe(
            "BTC-USDT", "Trade", ["fake2", "fake"], window_ms=100, max_count=50
        )
        assert ack.ok, ack.error
        assert s.venues["fake"].subscribed == [BTC_TRADES]  # computed once: no second call
        assert list(s.gw.merge_stage.merges) == [KEY]

        s.trade("fake")
        s.trade("fake2", at_ms=30)
        s.trade("fake", at_ms=40)
        s.clock.advance(0.15)  # window end (100 ms) + allowed skew (50 ms)
        with anyio.fail_after(2):
            await s.made["rec"].until(lambda: bool(s.merged("rec")))
            await s.made["other"].until(lambda: bool(s.merged("other")))
        [mine], [theirs] = s.merged("rec"), s.merged("other")
        assert mine.merge_id == theirs.merge_id
        assert [len(v) for v in mine.fragments.values()] == [2, 1]
        assert all(not isinstance(e, Trade) for e in s.made["rec"].events)  # merged only

        # A window only one venue fills is suppressed, and counted.
        async with s.gw.telemetry.subscribe("test") as ops:
            s.trade("fake")
            s.clock.advance(0.15)
            with anyio.fail_after(2):
                async for item in ops:
                    if item.name == "merge.suppressed_partial":
                        break
        assert item.labels == {
            "merge_key": "BTC-USDT/Trade",
            "missing_providers": "fake2",
            "fragments": "1",
            "reason": "time",
        }
        assert len(s.merged("rec")) == 1


@pytest.mark.anyio
async def test_unsubscribe_stops_the_merge_when_its_last_consumer_leaves() -> None:
    async with gateway() as s:
        assert (await s.gw.request(merged_sub())).ok
        assert (await s.gw.request(merged_sub(consumer_id="other"))).ok
        # "rec" also wants fake's raw trades: that stream stays when the merge stops.
        raw = {
            "kind": "subscribe",
            "consumer_id": "rec",
            "providers": ["fake"],
            "symbols": ["BTC-USDT"],
            "types": ["Trade"],
        }
        assert (await s.gw.request(raw)).ok
        assert s.venues["fake"].subscribed == [BTC_TRADES]  # held by the merge already
        unsub = {"kind": "merged_unsubscribe", "consumer_id": "rec", "symbol": "BTC-USDT"}
        assert (await s.gw.request({**unsub, "type": "Trade"})).ok
        assert s.gw.merge_stage.get(KEY) is not None  # "other" still uses it
        assert s.gw.orchestrator.merge is s.gw.merge_stage
        assert (await s.gw.request({**unsub, "type": "Trade", "consumer_id": "other"})).ok
        assert s.gw.merge_stage.merges == {}
        assert s.gw.orchestrator.merge is None  # events pay nothing for merges now
        assert s.venues["fake2"].unsubscribed == [BTC_TRADES]
        assert s.venues["fake"].unsubscribed == []  # rec's raw subscription keeps it
        again = await s.gw.request({**unsub, "type": "Trade"})
        assert again.ok  # unsubscribing what is not subscribed changes nothing


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("msg", "error"),
    [
        (merged_sub(providers=["fake", "fake"]), "at least two distinct providers"),
        (merged_sub(providers=["fake", "nope"]), "unknown provider 'nope'"),
        (merged_sub(type="ExecReport"), "type 'ExecReport' cannot be merged"),
        (merged_sub(type="Merged"), "type 'Merged' cannot be merged"),
        (merged_sub(type="Ticker"), "type(s) Ticker not supported by provider 'fake'"),
        (merged_sub(symbol="DOGE-USDT"), "unknown symbol(s) DOGE-USDT on provider 'fake'"),
        (merged_sub(consumer_id="ghost"), "unknown consumer 'ghost'"),
        (merged_sub(window_ms=100, max_count=50, symbol="BTC-USDT"), "already runs"),
        (merged_sub(window_ms=5), "window_ms"),
        (merged_sub(max_count=10**9), "max_count"),
        (merged_sub(providers=["fake", "fake2", "nope"], max_count=2), "below the number"),
        (
            {
                "kind": "merged_unsubscribe",
                "consumer_id": "ghost",
                "symbol": "X-Y",
                "type": "Trade",
            },
            "unknown consumer 'ghost'",
        ),
    ],
)
async def test_a_bad_merged_subscribe_gets_an_error_ack_and_changes_nothing(
    msg: dict[str, Any], error: str
) -> None:
    async with gateway() as s:
        # A running merge of ETH trades (and, for the "already runs" case, of BTC trades
        # with another window).
        assert (await s.gw.request(merged_sub(symbol="ETH-USDT"))).ok
        if error == "already runs":
            assert (await s.gw.request(merged_sub(consumer_id="other", window_ms=200))).ok
        version = s.gw.dispatcher.routing_version
        merges = dict(s.gw.merge_stage.merges)
        calls = {n: list(v.subscribed) for n, v in s.venues.items()}
        ack = await s.gw.request(msg)
        assert not ack.ok
        assert error in ack.error
        assert s.gw.dispatcher.routing_version == version
        assert s.gw.merge_stage.merges == merges
        assert {n: v.subscribed for n, v in s.venues.items()} == calls
        assert all(v.unsubscribed == [] for v in s.venues.values())


@pytest.mark.anyio
async def test_merged_subscribe_over_the_http_control_api() -> None:
    async with gateway(api=True) as s:
        assert s.gw.api_url is not None
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=s.gw.api_url, timeout=5) as http:
            resp = await http.post("/v1/control", json=merged_sub(), headers=auth)
            assert resp.status_code == 200, resp.text
            assert resp.json()["ok"] is True
            assert s.gw.merge_stage.get(KEY) is not None
            bad = await http.post(
                "/v1/control",
                json=merged_sub(providers=["fake", "fake"], symbol="ETH-USDT"),
                headers=auth,
            )
            assert bad.status_code == 422
            assert "at least two distinct providers" in bad.json()["error"]
            unsub = {
                "kind": "merged_unsubscribe",
                "consumer_id": "rec",
                "symbol": "BTC-USDT",
                "type": "Trade",
            }
            resp = await http.post("/v1/control", json=unsub, headers=auth)
            assert resp.status_code == 200
            assert s.gw.merge_stage.merges == {}


@pytest.mark.anyio
async def test_a_provider_restart_discards_its_merges_windows_and_resubscribes_the_merge() -> None:
    async with gateway() as s:
        assert (await s.gw.request(merged_sub())).ok
        async with s.gw.telemetry.subscribe("test") as ops:
            s.trade("fake")
            s.trade("fake2")  # a complete window in flight...
            s.venues["fake"].crash.set()  # ...when fake's connection dies for good
            with anyio.fail_after(2):
                async for item in ops:
                    if item.name == "merge.windows_discarded":
                        break
        assert item.labels["merge_key"] == "BTC-USDT/Trade"
        assert item.labels["fragments"] == "2"
        restarted = s.gw.providers["fake"].current
        assert restarted is not None
        assert restarted is not s.venues["fake"]
        # No consumer routes fake's raw trades: the merge's hold alone resubscribes them.
        with anyio.fail_after(2):
            while not restarted.subscribed:  # type: ignore[attr-defined]
                await anyio.wait_all_tasks_blocked()
        assert restarted.subscribed == [BTC_TRADES]  # type: ignore[attr-defined]
        s.venues["fake"] = restarted  # type: ignore[assignment]
        s.clock.advance(0.15)  # the discarded window's time passes: nothing is replayed
        s.trade("fake")
        s.trade("fake2")
        s.clock.advance(0.15)
        with anyio.fail_after(2):
            await s.made["rec"].until(lambda: bool(s.merged("rec")))
        [merged] = s.merged("rec")
        assert [f.seq_provider for f in merged.fragments["fake"]] == [3]
        assert s.gw.telemetry.count("merge.suppressed_partial") == 0

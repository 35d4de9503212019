"""The book stage around a tiny sequence-numbered assembler (a stand-in for a venue's)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import anyio
import pytest

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.book.stage import (
    BookStages,
    BookStageSettings,
    SymbolBookStage,
    book_stage_factory,
    running_book_stages,
)
from tradegw_core.clock import FakeClock
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.errors import RateLimitedError
from tradegw_core.schema.events import BookSnapshot, BookUpdate, Event, Level
from tradegw_core.schema.symbols import Symbol

BTC = Symbol("BTC-USDT")


class SeqAssembler:
    """Snapshots ``{"seq": n, "bid": p}``, diffs ``{"first": a, "last": b, "bid": p}``.

    Unsynced it buffers diffs; a snapshot drops buffered diffs it covers and replays the
    rest, or asks for a resync when they do not connect. Synced, a diff must continue the
    sequence. ``{"bad_checksum": True}`` in a diff stands for a checksum mismatch.
    """

    def __init__(self) -> None:
        self._book = OrderBook()
        self._synced = False
        self._seq = 0
        self.buffer: list[dict[str, Any]] = []
        self.resets = 0
        self.divergent_levels = 0

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def book(self) -> OrderBook:
        return self._book

    def reset(self) -> None:
        self.resets += 1
        self._synced = False
        self._book.clear()
        self.buffer.clear()

    def apply_snapshot(self, msg: dict[str, Any], ts_ingest: int) -> Sequence[BookOutput]:
        self._book.load([Level(Decimal(msg["bid"]), Decimal(1))], [])
        self._seq = msg["seq"]
        for diff in self.buffer:
            if diff["last"] <= self._seq:
                continue
            if diff["first"] > self._seq + 1:
                self._synced = False
                return [ResyncNeeded(symbol=BTC, reason=ResyncReason.GAP, detail="too old")]
            self._apply(diff)
        self.buffer.clear()
        self._synced = True
        bids = tuple(self._book.top_bids())
        return [
            BookSnapshot(
                event_id=f"s{self._seq}",
                provider="test",
                symbol=BTC,
                venue_symbol="BTCUSDT",
                seq_provider=self._seq,
                bids=bids,
            )
        ]

    def apply_diff(self, msg: dict[str, Any], ts_ingest: int) -> Sequence[BookOutput]:
        if not self._synced:
            self.buffer.append(msg)
            return []
        if msg.get("bad_checksum"):
            self._synced = False  # the stage resets it
            return [ResyncNeeded(symbol=BTC, reason=ResyncReason.CHECKSUM, detail="crc")]
        if msg["first"] != self._seq + 1:
            self._synced = False
            return [ResyncNeeded(symbol=BTC, reason=ResyncReason.GAP, detail="gap")]
        prev = self._seq
        self._apply(msg)
        return [
            BookUpdate(
                event_id=f"u{msg['last']}",
                provider="test",
                symbol=BTC,
                venue_symbol="BTCUSDT",
                seq_provider=msg["last"],
                first_seq=msg["first"],
                last_seq=msg["last"],
                prev_seq=prev,
                bids=(Level(Decimal(msg["bid"]), Decimal(1)),),
            )
        ]

    def reconcile(self, msg: dict[str, Any]) -> int:
        return self.divergent_levels

    def _apply(self, diff: dict[str, Any]) -> None:
        self._book.set_bid(Decimal(diff["bid"]), Decimal(1))
        self._seq = diff["last"]


def diff(first: int, last: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"first": first, "last": first if last is None else last, "bid": "100", **extra}


class Harness:
    """A BookStages service with a fake clock, recording what reaches consumers."""

    def __init__(self, telemetry: Any, **settings: Any) -> None:
        self.clock = FakeClock()
        self.sent: list[Event] = []
        self.telemetry = telemetry
        self.stages = BookStages(
            "test",
            sink=self.sent.append,
            telemetry=telemetry,
            clock=self.clock,
            settings=BookStageSettings(**settings),
            rng=random.Random(9),
        )
        self.resyncs: list[tuple[str, ResyncReason]] = []
        self.reconciles: list[str] = []
        self.calls: list[str] = []
        self._read = 0
        self._waiter: anyio.Event | None = None
        self.snapshot_seq = 10
        self.fail_next: list[Exception] = []
        self.assembler = SeqAssembler()
        self.stage: SymbolBookStage = self.stages(
            BTC, "BTCUSDT", self.assembler, resync=self.resync, reconcile=None
        )

    def with_reconcile(self) -> None:
        self.stage = self.stages.make(
            BTC, "BTCUSDT", self.assembler, resync=self.resync, reconcile=self.reconcile
        )

    async def resync(self, symbol: Symbol, reason: ResyncReason) -> None:
        self.resyncs.append((symbol, reason))
        self.record(f"resync {reason}")
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.stage.on_snapshot({"seq": self.snapshot_seq, "bid": "99"}, 0)

    async def reconcile(self, symbol: Symbol) -> int | None:
        self.reconciles.append(symbol)
        self.record("reconcile")
        return self.assembler.reconcile({})

    def record(self, what: str) -> None:
        self.calls.append(what)
        if self._waiter is not None:
            self._waiter.set()

    async def next_call(self) -> str:
        while self._read >= len(self.calls):
            self._waiter = anyio.Event()
            await self._waiter.wait()
        self._read += 1
        return self.calls[self._read - 1]

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.sent]


def test_nothing_reaches_consumers_before_the_first_consistent_snapshot(telemetry: Any) -> None:
    h = Harness(telemetry)
    h.stage.on_diff(diff(9), 1)
    h.stage.on_diff(diff(11), 2)
    h.stage.on_diff(diff(12), 3)
    assert h.sent == []
    assert not h.stage.live
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 4)  # covers 9, replays 11 and 12
    assert h.types() == ["BookSnapshot"]
    assert h.sent[0].seq_provider == 12
    h.stage.on_diff(diff(13), 5)
    assert h.types() == ["BookSnapshot", "BookUpdate"]
    assert h.stage.stats.snapshots == 1
    assert h.stage.stats.updates == 1


def test_a_gap_resyncs_and_blocks_delivery_until_the_new_snapshot(telemetry: Any) -> None:
    h = Harness(telemetry)
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    h.stage.on_diff(diff(15), 1)  # 11..14 missing
    h.stage.on_diff(diff(16), 2)  # buffered by the reset assembler
    assert h.types() == ["BookSnapshot"]
    assert telemetry.named("book.resync") == [
        {"provider": "test", "symbol": "BTC-USDT", "reason": "gap", "detail": "gap"}
    ]
    assert telemetry.named("checksum.failed") == []
    assert h.assembler.resets == 1
    assert h.assembler.buffer == [diff(16)]
    h.stage.on_snapshot({"seq": 15, "bid": "98"}, 3)
    h.stage.on_diff(diff(17), 4)
    assert h.types() == ["BookSnapshot", "BookSnapshot", "BookUpdate"]


def test_a_checksum_mismatch_is_reported_twice(telemetry: Any) -> None:
    h = Harness(telemetry)
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    h.stage.on_diff(diff(11, bad_checksum=True), 1)
    assert telemetry.named("checksum.failed") == [
        {"provider": "test", "symbol": "BTC-USDT", "detail": "crc"}
    ]
    assert telemetry.named("book.resync")[0]["reason"] == "checksum"
    assert h.stage.stats.checksum_failures == 1


def test_a_late_update_from_an_unsynced_assembler_is_dropped(telemetry: Any) -> None:
    class Leaky(SeqAssembler):
        def apply_diff(self, msg: dict[str, Any], ts_ingest: int) -> Sequence[BookOutput]:
            self._synced = True  # misbehaves: pretends to be synced before any snapshot
            self._seq = msg["first"] - 1
            return super().apply_diff(msg, ts_ingest)

    h = Harness(telemetry)
    stage = h.stages.make(BTC, "BTCUSDT", Leaky(), resync=h.resync)
    stage.on_diff(diff(5), 0)
    assert h.sent == []
    assert stage.stats.dropped_unsynced == 1


@pytest.mark.anyio
async def test_repeated_requests_call_resync_once(telemetry: Any) -> None:
    h = Harness(telemetry)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            for _ in range(5):
                h.stage.request_resync(ResyncReason.RECONNECT)
            assert await h.next_call() == "resync reconnect"
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert h.resyncs == [(BTC, ResyncReason.RECONNECT)]
    assert h.stage.stats.coalesced == 4
    assert len(telemetry.named("book.resync")) == 1
    assert h.types() == ["BookSnapshot"]


@pytest.mark.anyio
async def test_a_failing_resync_is_reported_and_retried_with_backoff(telemetry: Any) -> None:
    h = Harness(telemetry, backoff_base_s=10.0, backoff_cap_s=10.0)
    h.fail_next = [RateLimitedError("slow down", retry_after=20.0), OSError("refused")]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            h.stage.request_resync(ResyncReason.INITIAL)
            assert await h.next_call() == "resync initial"
            await anyio.wait_all_tasks_blocked()
            assert len(h.resyncs) == 1  # not before Retry-After
            h.clock.advance(20.0)
            h.stages.poke()
            assert await h.next_call() == "resync initial"
            h.clock.advance(10.0)
            h.stages.poke()
            assert await h.next_call() == "resync initial"
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    failed = telemetry.named("book.resync_failed")
    assert [f["error"] for f in failed] == ["RateLimitedError", "OSError"]
    assert h.stage.stats.failures == 2
    assert h.stage.live
    assert h.types() == ["BookSnapshot"]


@pytest.mark.anyio
async def test_refresh_reconciles_and_resyncs_a_divergent_book(telemetry: Any) -> None:
    h = Harness(telemetry, refresh_min_s=120, refresh_max_s=300, stale_after_s=None)
    h.with_reconcile()
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            h.clock.advance(300.0)
            h.stages.poke()
            assert await h.next_call() == "reconcile"  # equal: nothing else happens
            await anyio.wait_all_tasks_blocked()
            assert telemetry.named("book.divergence") == []
            h.assembler.divergent_levels = 3
            h.clock.advance(300.0)
            h.stages.poke()
            assert await h.next_call() == "reconcile"
            assert await h.next_call() == "resync refresh"
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert telemetry.named("book.divergence") == [
        {"provider": "test", "symbol": "BTC-USDT", "levels": 3}
    ]
    assert telemetry.named("book.resync")[-1]["reason"] == "refresh"
    assert h.stage.stats.divergences == 1
    assert h.types() == ["BookSnapshot", "BookSnapshot"]


@pytest.mark.anyio
async def test_refresh_without_reconcile_resyncs(telemetry: Any) -> None:
    h = Harness(telemetry, refresh_min_s=60, refresh_max_s=60, stale_after_s=None)
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            h.clock.advance(59.0)
            h.stages.poke()
            await anyio.wait_all_tasks_blocked()
            assert h.resyncs == []
            h.clock.advance(1.0)
            h.stages.poke()
            assert await h.next_call() == "resync refresh"
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_failing_reconcile_is_reported(telemetry: Any) -> None:
    h = Harness(telemetry, refresh_min_s=10, refresh_max_s=10, stale_after_s=None)

    async def broken(symbol: Symbol) -> int | None:
        h.record("reconcile")
        raise OSError("down")

    stage = h.stages.make(BTC, "BTCUSDT", h.assembler, resync=h.resync, reconcile=broken)
    stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            h.clock.advance(10.0)
            h.stages.poke()
            assert await h.next_call() == "reconcile"
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert telemetry.named("book.refresh_failed")[0]["error"] == "OSError"
    assert stage.live  # a failed refresh does not distrust the book


@pytest.mark.anyio
async def test_a_stale_book_is_resynced(telemetry: Any) -> None:
    h = Harness(telemetry, stale_after_s=300, refresh_min_s=None)
    h.stage.on_snapshot({"seq": 10, "bid": "99"}, 0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(h.stages.run)
            h.clock.advance(200.0)
            h.stage.on_diff(diff(11), 1)  # an update keeps it fresh
            h.clock.advance(200.0)
            h.stages.poke()
            await anyio.wait_all_tasks_blocked()
            assert h.resyncs == []
            h.clock.advance(100.0)
            h.stages.poke()
            assert await h.next_call() == "resync stale"
            tg.cancel_scope.cancel()
    assert telemetry.named("book.resync") == [
        {"provider": "test", "symbol": "BTC-USDT", "reason": "stale", "detail": "no book update"}
    ]


def test_closed_and_replaced_stages_stop_asking(telemetry: Any) -> None:
    h = Harness(telemetry)
    old = h.stage
    new = h.stages.make(BTC, "BTCUSDT", SeqAssembler(), resync=h.resync)
    assert old.closed
    assert h.stages.get(BTC) is new
    old.request_resync(ResyncReason.GAP)
    old.close()  # closing the replaced stage leaves the new one alone
    assert h.stages.get(BTC) is new
    new.close()
    assert h.stages.get(BTC) is None
    assert telemetry.named("book.resync") == []


class Ctx:
    """The parts of a ProviderContext the book stage reads."""

    def __init__(self, telemetry: Any, book: Any) -> None:
        self.provider_id = "binance"
        self.sent: list[Event] = []
        self.emit = self.sent.append
        self.telemetry = telemetry
        self.clock = FakeClock()
        self.book_settings = book


def test_the_factory_reads_the_book_config_section(telemetry: Any) -> None:
    from tradegw_core.config.models import BookSettings

    book = BookSettings(refresh_min_s=10, refresh_max_s=20, stale_after_s=30)
    stages = book_stage_factory(Ctx(telemetry, book))
    assert stages.provider == "binance"
    assert (stages.settings.refresh_min_s, stages.settings.refresh_max_s) == (10, 20)
    assert stages.settings.stale_after_s == 30
    assert book_stage_factory(Ctx(telemetry, {"stale_after_s": 5})).settings.stale_after_s == 5
    assert book_stage_factory(Ctx(telemetry, None)).settings == BookStageSettings()


def test_a_service_nobody_runs_says_so_once(telemetry: Any) -> None:
    stages = book_stage_factory(Ctx(telemetry, None))

    async def resync(symbol: Symbol, reason: ResyncReason) -> None:
        raise AssertionError("nobody runs the service")  # pragma: no cover

    stage = stages.make(BTC, "BTCUSDT", SeqAssembler(), resync=resync)
    assert telemetry.named("book.stage_not_running") == []
    stage.request_resync(ResyncReason.INITIAL)
    stage.request_resync(ResyncReason.RECONNECT)
    assert telemetry.named("book.stage_not_running") == [{"provider": "binance"}]


@pytest.mark.anyio
async def test_running_book_stages_serves_requests_while_the_block_runs(telemetry: Any) -> None:
    ctx = Ctx(telemetry, None)
    called = anyio.Event()

    async def resync(symbol: Symbol, reason: ResyncReason) -> None:
        stage.on_snapshot({"seq": 1, "bid": "10"}, 0)
        called.set()

    with anyio.fail_after(5):
        async with running_book_stages(ctx) as stages:
            stage = stages(BTC, "BTCUSDT", SeqAssembler(), resync=resync)
            stage.request_resync(ResyncReason.INITIAL)
            await called.wait()
    assert [type(e).__name__ for e in ctx.sent] == ["BookSnapshot"]
    assert telemetry.named("book.stage_not_running") == []

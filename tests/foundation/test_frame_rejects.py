"""Rejected frames: counted per provider and reason, logged at a bounded rate, books resynced."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.clock import FakeClock
from tradegw_core.contracts import BookOutput, ResyncReason
from tradegw_core.observability.metrics import Metrics
from tradegw_core.observability.rejects import FrameRejects, LogLimiter, scrub
from tradegw_core.orchestrator.context import GatewayOrderAdapterContext
from tradegw_core.schema.events import BookSnapshot
from tradegw_core.schema.symbols import Symbol
from tradegw_core.testing.provider import RecordingProviderContext, dispatching_context
from tradegw_core.testing.recorders import TelemetryRecorder

METRIC = "tradegw_provider_frames_rejected_total"
BTC = Symbol("BTC-USDT")


def test_rejections_are_counted_per_provider_and_reason_in_the_metric() -> None:
    metrics = Metrics()
    a = FrameRejects("binance", metrics=metrics)
    b = FrameRejects("kraken", metrics=metrics)
    a.reject("value", detail="bid 'NaN'")
    a.reject("value")
    a.reject("decode")
    b.reject("value")
    assert metrics.value(METRIC, provider="binance", reason="value") == 2
    assert metrics.value(METRIC, provider="binance", reason="decode") == 1
    assert metrics.value(METRIC, provider="kraken", reason="value") == 1
    assert a.counts == {"value": 2, "decode": 1}
    assert a.total == 3


def test_reasons_stay_bounded_whatever_a_plugin_passes() -> None:
    rejects = FrameRejects("x", max_reasons=3)
    for reason in ["decode", "Not A Token", "x" * 40, "", "schema", "value", "crossed", "decode"]:
        rejects.reject(reason)
    # Malformed tokens fold into "other"; so do new reasons once 3 distinct ones are kept.
    assert rejects.counts == {"decode": 2, "other": 5, "schema": 1}


def test_log_lines_are_rate_limited_and_say_how_many_were_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    rejects = FrameRejects("coinbase", now_ns=clock.monotonic_ns, log_burst=2, log_interval_s=10)
    for i in range(50):
        rejects.reject("schema", detail=f"frame {i}")
    assert len(caplog.records) == 2
    clock.advance(10)
    rejects.reject("schema", detail="later")
    assert len(caplog.records) == 3
    line = caplog.records[-1].getMessage()
    assert line == "coinbase: rejected a frame: schema: later (48 more rejected frames not logged)"
    assert rejects.counts["schema"] == 51


def test_the_logged_detail_is_truncated_one_line_and_secret_free(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tradegw.frames")
    rejects = FrameRejects("binance")
    detail = '{"apiKey":"KEY123","signature":"deadbeef","x":"\n' + "y" * 500
    rejects.reject("schema", detail=detail, symbol=BTC)
    line = caplog.records[0].getMessage()
    assert "KEY123" not in line
    assert "deadbeef" not in line
    assert "\n" not in line
    assert line.startswith("binance: rejected a frame for BTC-USDT: schema: ")
    assert len(line) < 260
    assert scrub("GET /api/v3/order?symbol=X&signature=abc123&timestamp=1") == (
        "GET /api/v3/order?symbol=X&signature=***&timestamp=1"
    )
    assert scrub("Authorization: Bearer tok.en.jwt") == "Authorization: Bearer ***"
    assert scrub("bearer tok.en.jwt") == "bearer ***"


def test_a_rejection_never_raises_even_when_its_accounting_breaks() -> None:
    class Broken:
        def inc(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("registry on fire")

    def resync(symbol: str, detail: str) -> None:
        raise RuntimeError("no")

    rejects = FrameRejects("x", metrics=Broken(), resync=resync)
    rejects.reject("value", symbol=BTC)
    assert rejects.failures == 1


def test_log_limiter_validates_and_refills() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="burst >= 1"):
        LogLimiter(burst=0)
    limiter = LogLimiter(burst=1, interval_s=1.0, now_ns=clock.monotonic_ns)
    assert limiter.allow() == 0
    assert limiter.allow() is None
    assert limiter.allow() is None
    clock.advance(1)
    assert limiter.allow() == 2


def test_the_gateway_context_resyncs_only_a_served_book() -> None:
    ctx, _ = dispatching_context("wsfeed", None)
    calls: list[tuple[str, ResyncReason, str]] = []

    class Stages:
        def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
            raise AssertionError

        def resync(self, symbol: str, reason: ResyncReason, detail: str = "") -> bool:
            calls.append((symbol, reason, detail))
            return True

    ctx.reject_frame("value", detail="x")  # no book stage in this build: counted only
    ctx.book_stage = Stages()
    ctx.reject_frame("crossed", symbol=BTC)
    assert calls == [(BTC, ResyncReason.REJECTED, "rejected frame (crossed)")]
    assert ctx.metrics.value(METRIC, provider="wsfeed", reason="crossed") == 1
    assert ctx.rejects.counts == {"value": 1, "crossed": 1}


class OneShotAssembler:
    """Synced by any snapshot; ``reset`` unsyncs it (all the stage needs here)."""

    def __init__(self) -> None:
        self.book = OrderBook()
        self.synced = False

    def reset(self) -> None:
        self.synced = False

    def apply_snapshot(self, msg: Any, ts_ingest: int) -> list[BookOutput]:
        self.synced = True
        return [BookSnapshot(event_id="s", provider="p", symbol=BTC, venue_symbol="BTCUSDT")]

    def apply_diff(self, msg: Any, ts_ingest: int) -> list[BookOutput]:  # pragma: no cover
        return []

    def reconcile(self, msg: Any) -> int:  # pragma: no cover
        return 0


@pytest.mark.anyio
async def test_the_recording_context_resyncs_a_served_book_through_the_real_stage() -> None:
    ctx = RecordingProviderContext("wsfeed", None, telemetry=TelemetryRecorder())
    resyncs: list[Symbol] = []

    async def resync(symbol: Symbol, reason: ResyncReason) -> None:
        resyncs.append(symbol)

    stage = ctx.book_stage(BTC, "BTCUSDT", OneShotAssembler(), resync=resync)
    stage.on_snapshot({}, 0)
    assert stage.live
    ctx.reject_frame("value", symbol=Symbol("ETH-USDT"))  # not served: nothing to resync
    assert stage.live
    ctx.reject_frame("value", symbol=BTC)
    assert not stage.live
    assert stage.stats.resyncs == 1
    assert ctx.rejects.counts == {"value": 2}


def test_order_adapter_contexts_count_rejections_under_their_provider() -> None:
    metrics = Metrics()
    ctx = GatewayOrderAdapterContext(
        "binance", None, clock=FakeClock(), telemetry=TelemetryRecorder(), metrics=metrics
    )
    ctx.reject_frame("value", detail="executionReport with q=-1", symbol=BTC)
    assert metrics.value(METRIC, provider="binance", reason="value") == 1

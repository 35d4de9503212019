"""Lifecycle: run_gateway's exit codes, signals, shutdown flush, required providers."""

from __future__ import annotations

import functools
import os
import signal
import socket
from typing import Any

import anyio
import httpx
import pytest

from tradegw_core.config.models import MetricsSettings
from tradegw_core.dispatcher.ordering import OrderingMode
from tradegw_core.errors import ProviderFailedError
from tradegw_core.gateway import Gateway, run_gateway
from tradegw_core.observability.metrics import Metrics
from tradegw_core.schema.events import EventType

from .conftest import ProviderTracker, exec_report, trade
from .test_gateway import make, sub


@pytest.mark.anyio
async def test_run_gateway_ends_after_its_duration() -> None:
    settings, regs, _tracker, made = make()
    with anyio.fail_after(2):
        code = await run_gateway(settings, regs, duration=0.05)
    assert code == 0
    assert made["rec"].stopped


@pytest.mark.anyio
async def test_sigterm_shuts_down_cleanly() -> None:
    settings, regs, _tracker, made = make()
    seen: list[Gateway] = []

    def started(gw: Gateway) -> None:
        seen.append(gw)
        os.kill(os.getpid(), signal.SIGTERM)

    with anyio.fail_after(2):
        code = await run_gateway(settings, regs, started=started)
    assert code == 0
    assert seen[0].stopped.is_set()
    assert made["rec"].stopped


@pytest.mark.anyio
async def test_a_required_provider_that_fails_stops_the_gateway_with_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, regs, tracker, made = make(required=("fake",))

    def started(gw: Gateway) -> None:
        tracker.instances[0].crash.set()

    with anyio.fail_after(2):
        code = await run_gateway(settings, regs, started=started)
    assert code == 1
    err = capsys.readouterr().err
    assert "required provider 'fake' failed" in err
    assert "connection lost for good" in err
    assert made["rec"].stopped


@pytest.mark.anyio
async def test_a_required_provider_that_cannot_start_fails_start_up() -> None:
    settings, regs, _tracker, _made = make(
        required=("fake",), tracker=ProviderTracker(fail_on_start=True)
    )
    with anyio.fail_after(2), pytest.raises(ProviderFailedError, match="venue unreachable"):
        async with Gateway(settings, regs):
            pass  # pragma: no cover - never reached


def test_required_providers_must_be_enabled() -> None:
    settings, regs, _tracker, _made = make()
    bad = settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={"required_providers": ("x",)})}
    )
    with pytest.raises(ProviderFailedError, match=r"not in gateway\.providers"):
        Gateway(bad, regs)


@pytest.mark.anyio
async def test_shutdown_delivers_what_is_in_flight() -> None:
    settings, regs, tracker, made = make()
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        venue.ctx.set_ordering_mode(EventType.TRADE, OrderingMode.CONTIGUOUS)  # type: ignore[attr-defined]
        assert (await gw.request(sub())).ok
        venue.emit(trade(1))
        venue.emit(trade(3))  # held for the missing 2 when the gateway stops
        venue.emit(trade(4))
    assert [e.seq_provider for e in made["rec"].events] == [1, 3, 4]
    assert made["rec"].stopped


@pytest.mark.anyio
async def test_exec_reports_are_never_dropped_while_the_market_data_lane_is_full() -> None:
    settings, regs, tracker, made = make(lane_size=3, backlog_size=2, overflow="drop_newest")
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        assert (await gw.request(sub())).ok
        # The reader task emits without yielding, so the lane fills before the consumer runs.
        for seq in range(1, 11):
            venue.emit(trade(seq))
        for n in range(20):
            gw.dispatcher.deliver_exec("rec", exec_report(n))
        rec = made["rec"]
        with anyio.fail_after(1):
            # 3 in the lane, 2 in the stream's backlog (out at the next flush), 5 refused.
            await rec.wait_for(lambda c: len(c.reports) == 20 and len(c.events) == 5)
        assert [r.client_order_id for r in rec.reports] == [f"o{n}" for n in range(20)]
        assert rec.order[:20] == ["ExecReport"] * 20  # reports before market data
        lane = gw.dispatcher.lane("rec")
        assert lane.stats.dropped_newest == 5
        assert gw.telemetry.count("backpressure.triggered") >= 1


@pytest.mark.anyio
async def test_a_consumer_that_raises_keeps_running() -> None:
    settings, regs, tracker, made = make()
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        rec = made["rec"]
        calls: list[int] = []

        async def flaky(event: Any) -> None:
            calls.append(event.seq_provider)
            if event.seq_provider == 1:
                raise ValueError("bad strategy")
            rec.events.append(event)
            rec.poke()

        rec.on_event = flaky  # type: ignore[method-assign]
        assert (await gw.request(sub())).ok
        with anyio.fail_after(1):
            venue.emit(trade(1))
            venue.emit(trade(2))
            await rec.wait_for(lambda c: len(c.events) == 1)
        assert calls == [1, 2]
        assert gw.consumer_stats["rec"].errors == 1
        assert gw.telemetry.count("consumer.error") == 1


@pytest.mark.anyio
async def test_the_flush_tick_releases_a_gap_by_itself() -> None:
    settings, regs, tracker, made = make(lateness_ms=0, flush_ms=1)
    async with Gateway(settings, regs) as gw:
        venue = await tracker.wait_started(1)
        venue.ctx.set_ordering_mode(EventType.TRADE, OrderingMode.CONTIGUOUS)  # type: ignore[attr-defined]
        assert (await gw.request(sub())).ok
        with anyio.fail_after(1):
            venue.emit(trade(1))
            venue.emit(trade(5))
            await made["rec"].wait_for(lambda c: len(c.events) == 2)
        assert gw.telemetry.count("ordering.gap") == 1
        venue.ctx.reset_ordering()  # type: ignore[attr-defined]
        assert (
            gw.dispatcher.ordering.last_seq(next(iter(gw.subscriptions.streams_of("rec")))) is None
        )


@pytest.mark.anyio
async def test_run_serves_prometheus_metrics_while_it_runs() -> None:
    settings, regs, tracker, made = make()
    settings = settings.model_copy(
        update={"metrics": MetricsSettings(enabled=True, host="127.0.0.1", port=0)}
    )
    metrics = Metrics()
    running = anyio.Event()
    gateways: list[Gateway] = []

    def started(gw: Gateway) -> None:
        gateways.append(gw)
        running.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                functools.partial(run_gateway, settings, regs, started=started, metrics=metrics)
            )
            await running.wait()
            gw = gateways[0]
            url = gw.metrics_url
            assert url is not None
            assert url.startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as client:
                first = await client.get(url)  # before any event: the counters exist at 0
                venue = await tracker.wait_started(1)
                assert (await gw.request(sub())).ok
                venue.emit(trade(1))
                await made["rec"].wait_for(lambda c: len(c.events) == 1)
                gw.export_metrics()
                page = await client.get(url)
            gw.stop()
    assert first.status_code == 200
    assert "tradegw_dispatcher_received_total 0.0" in first.text
    assert "tradegw_dispatcher_gaps_total 0.0" in first.text
    assert 'tradegw_dispatcher_lane_dropped_total{consumer="rec",policy="dlq"} 0.0' in first.text
    assert page.status_code == 200
    assert "tradegw_dispatcher_received_total 1.0" in page.text  # what the gateway counted
    assert 'tradegw_dispatcher_delivered_total{consumer="rec"} 1.0' in page.text
    assert "tradegw_dispatcher_gaps_total 0.0" in page.text


@pytest.mark.anyio
async def test_run_refuses_a_metrics_port_it_cannot_serve(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, regs, _tracker, made = make()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = settings.model_copy(
            update={"metrics": MetricsSettings(enabled=True, host="127.0.0.1", port=port)}
        )
        with anyio.fail_after(2):
            code = await run_gateway(settings, regs, duration=0.05)
    assert code == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in capsys.readouterr().err
    assert "rec" not in made  # nothing started

"""Scrape ``/metrics`` of a real gateway running against the three venue emulators.

A consumer takes books and trades of BTC-USDT from Binance, Coinbase and Kraken on
loopback emulators (one shared market). Before anything flows, every operator counter is
already there at 0 (an alert on ``rate()`` sees 0, not "no data"). Then the Binance emulator
drops one diff-depth frame (fault plan): the gateway sees the gap and resyncs that book.
The test scrapes the gateway's Prometheus exporter over HTTP and checks each documented
series with a plausible value. Every wait is bounded; none sleeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tradegw_core.observability.metrics import start_exporter
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Trade
from tradegw_core.sim.faults import Drop
from tradegw_core.testing.recorders import RecordingConsumer

from .test_merge_e2e import SYMBOL, VENUES, registries, three_venues

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


DOCS = Path(__file__).resolve().parents[2] / "docs"


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        page = await http.get(url, timeout=5)
    assert page.status_code == 200
    out: Samples = {}
    for family in text_string_to_metric_families(page.text):
        out[(f"family:{family.name}", frozenset())] = 0.0
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def documented_queries() -> set[str]:
    """Metric names the Grafana dashboard and the recommended alert rules use."""
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += re.findall(r"expr: (.+)", (DOCS / "alerts.md").read_text(encoding="utf-8"))
    names = {n for e in exprs for n in re.findall(r"tradegw_[a-z0-9_]+", e)}
    assert len(names) >= 15, names
    return {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in names}


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"{name}{labels} is not exported"
    return samples[key]


@pytest.mark.anyio
async def test_scraped_series_exist_from_start_and_count_a_gap_and_its_resync(
    tmp_path: Path,
) -> None:
    rec = RecordingConsumer()
    regs = registries(rec)
    with anyio.fail_after(40):
        async with three_venues(regs, tmp_path / "journal.sqlite3") as (gw, emus):
            with start_exporter(gw.metrics, "127.0.0.1", 0) as exporter:
                url = f"http://127.0.0.1:{exporter.port}/metrics"
                start = await scrape(url)
                # Every counter exists at 0 from start-up for the label sets known then.
                for name in (
                    "tradegw_dispatcher_duplicates_total",
                    "tradegw_dispatcher_gaps_total",
                    "tradegw_dispatcher_stale_dropped_total",
                    "tradegw_dispatcher_dlq_total",
                ):
                    assert value(start, name) == 0
                for policy in ("dlq", "drop_oldest", "drop_newest"):
                    lane = {"consumer": "merger", "policy": policy}
                    assert value(start, "tradegw_dispatcher_lane_dropped_total", **lane) == 0
                for venue in VENUES:
                    for reason in ("decode", "schema", "value", "crossed"):
                        rejected = {"provider": venue, "reason": reason}
                        assert (
                            value(start, "tradegw_provider_frames_rejected_total", **rejected) == 0
                        )
                    for reason in ("gap", "checksum", "stale", "reconnect"):
                        labels = {"provider": venue, "reason": reason, "symbol": SYMBOL}
                        assert value(start, "tradegw_book_resyncs_total", **labels) == 0
                    book = {"provider": venue, "symbol": SYMBOL}
                    assert value(start, "tradegw_book_checksum_failures_total", **book) == 0
                    for state in ("ACK", "FILLED", "REJECTED"):
                        orders = {"provider": venue, "state": state}
                        assert value(start, "tradegw_orders_state_total", **orders) == 0
                assert value(start, "tradegw_trading_global_enabled") == 1
                assert value(start, "tradegw_trading_enabled", consumer="merger") == 1
                assert value(start, "tradegw_trading_consumer_enabled", consumer="merger") == 1
                assert value(start, "tradegw_orders_suppressed_total", consumer="merger") == 0

                # Books and trades of all three venues; then Binance loses one depth frame.
                await rec.until(lambda: rec.ctx is not None)
                types = (EventType.BOOK_UPDATE, EventType.BOOK_SNAPSHOT, EventType.TRADE)
                ack = await rec.ctx.subscribe(VENUES, [SYMBOL], types)
                assert ack.ok, ack.error
                await rec.until(
                    lambda: (
                        {e.provider for e in rec.of(BookUpdate)} == set(VENUES)
                        and {e.provider for e in rec.of(Trade)} == set(VENUES)
                    )
                )
                async with gw.telemetry.subscribe("test", buffer=4096) as ops:
                    drop = emus["binance"].faults.ws(
                        Drop(), match=lambda conn, frame: "depthUpdate" in str(frame), skip=2
                    )
                    async for item in ops:
                        if item.name == "book.resync" and item.labels["reason"] == "gap":
                            break
                assert drop.fired == 1
                assert item.labels["provider"] == "binance"
                snapshots = len([e for e in rec.of(BookSnapshot) if e.provider == "binance"])
                await rec.until(
                    lambda: (
                        len([e for e in rec.of(BookSnapshot) if e.provider == "binance"])
                        > snapshots
                    )
                )
                gw.export_metrics()
                after = await scrape(url)

    gap = {"provider": "binance", "reason": "gap", "symbol": SYMBOL}
    assert value(after, "tradegw_book_resyncs_total", **gap) >= 1
    delivered = value(after, "tradegw_dispatcher_delivered_total", consumer="merger")
    received = value(after, "tradegw_dispatcher_received_total")
    assert 0 < delivered <= received
    assert value(after, "tradegw_dispatcher_lane_depth", consumer="merger") >= 0
    for venue in VENUES:
        rejected = {"provider": venue, "reason": "decode"}
        assert value(after, "tradegw_provider_frames_rejected_total", **rejected) == 0
    connections = {
        dict(labels)["connection"]
        for (name, labels), v in after.items()
        if name == "tradegw_ws_connected" and v == 1
    }
    assert any(c.startswith("coinbase") for c in connections), connections
    assert any(c.startswith("kraken") for c in connections), connections
    assert all(
        v == 0 for (name, _), v in after.items() if name == "tradegw_ws_stale"
    )  # nothing went silent
    assert value(after, "tradegw_trading_global_enabled") == 1
    families = {name[len("family:") :] for name, _ in after if name.startswith("family:")}
    missing = documented_queries() - families
    assert not missing, f"the dashboard or the alert rules use metrics nobody exports: {missing}"

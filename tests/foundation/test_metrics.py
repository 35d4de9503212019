"""The metrics facade: per-gateway registry, on-demand metrics, bounded labels, exporter."""

from __future__ import annotations

import http.client

import pytest
from prometheus_client import REGISTRY

from tradegw_core.observability.metrics import Metrics, start_exporter


def test_each_gateway_has_its_own_registry_never_the_global_one() -> None:
    a, b = Metrics(), Metrics()

    a.inc("tradegw_test_events_total", provider="binance")

    assert a.registry is not b.registry
    assert a.registry is not REGISTRY
    assert a.value("tradegw_test_events_total", provider="binance") == 1.0
    assert b.value("tradegw_test_events_total", provider="binance") is None
    assert REGISTRY.get_sample_value("tradegw_test_events_total", {"provider": "binance"}) is None


def test_counters_gauges_histograms_created_on_demand() -> None:
    m = Metrics()

    m.inc("tradegw_orders_total", state="FILLED")
    m.inc("tradegw_orders_total", 2, state="FILLED")
    m.set("tradegw_lane_depth_events", 7, consumer="c1")
    m.add("tradegw_lane_depth_events", -2, consumer="c1")
    m.observe("tradegw_event_latency_seconds", 0.0004, provider="kraken")
    m.observe("tradegw_event_latency_seconds", 0.002, provider="kraken")

    assert m.value("tradegw_orders_total", state="FILLED") == 3.0
    assert m.value("tradegw_lane_depth_events", consumer="c1") == 5.0
    assert m.value("tradegw_event_latency_seconds", provider="kraken") == 2.0
    text = m.render().decode()
    assert 'tradegw_event_latency_seconds_bucket{le="0.0005",provider="kraken"} 1.0' in text
    assert m.counter("tradegw_orders_total", labelnames=["state"]) is m.counter(
        "tradegw_orders_total", labelnames=["state"]
    )
    assert m.gauge("tradegw_plain_gauge") is not None
    assert m.histogram("tradegw_plain_seconds", buckets=[1.0]) is not None


def test_same_name_with_other_kind_or_labels_is_refused() -> None:
    m = Metrics()
    m.inc("tradegw_x_total", provider="a")

    with pytest.raises(ValueError, match="exists as a counter"):
        m.set("tradegw_x_total", 1, provider="a")
    with pytest.raises(ValueError, match="labels"):
        m.inc("tradegw_x_total", venue="a")


def test_label_values_are_bounded_and_overflow_is_counted() -> None:
    m = Metrics(max_series=3)

    for i in range(10):
        m.inc("tradegw_orders_by_id_total", order=f"id-{i}")

    assert m.value("tradegw_orders_by_id_total", order="id-2") == 1.0
    assert m.value("tradegw_orders_by_id_total", order="id-5") is None
    assert m.value("tradegw_orders_by_id_total", order="_other_") == 7.0
    overflow = m.value("tradegw_metrics_series_overflow_total", metric="tradegw_orders_by_id_total")
    assert overflow == 7.0
    with pytest.raises(ValueError, match="max_series"):
        Metrics(max_series=0)


def test_exporter_serves_the_registry_on_loopback() -> None:
    m = Metrics()
    m.inc("tradegw_exported_total", provider="coinbase")

    with start_exporter(m, host="127.0.0.1", port=0) as exporter:
        assert exporter.port > 0
        conn = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=5)
        try:
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
    exporter.close()  # idempotent

    assert 'tradegw_exported_total{provider="coinbase"} 1.0' in body


def test_unlabelled_metrics_and_counter_lookup_without_total_suffix() -> None:
    m = Metrics()

    m.inc("tradegw_ws_reconnects")
    m.inc("tradegw_ws_reconnects", 2)
    m.set("tradegw_up", 1)

    assert m.value("tradegw_ws_reconnects") == 3.0
    assert m.value("tradegw_up") == 1.0
    assert m.value("tradegw_never_created") is None

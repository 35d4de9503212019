"""Telemetry the operator alerts on becomes labelled Prometheus series (ops_metrics)."""

from __future__ import annotations

from tradegw_core.bus.telemetry import TelemetryBus
from tradegw_core.observability.metrics import Metrics


def test_resyncs_checksums_reconnects_and_connection_state_are_labelled_series() -> None:
    m = Metrics()
    bus = TelemetryBus(metrics=m)

    bus.emit("ws.connected", provider="kraken-md0")
    assert m.value("tradegw_ws_connected", connection="kraken-md0") == 1
    assert m.value("tradegw_ws_stale", connection="kraken-md0") == 0
    for reason in ("closed", "stale"):  # exist at 0 once the connection is known
        assert m.value("tradegw_ws_reconnects_total", connection="kraken-md0", reason=reason) == 0

    bus.emit("ws.stale", provider="kraken-md0")
    bus.emit("ws.reconnect", provider="kraken-md0", reason="stale")
    assert m.value("tradegw_ws_stale", connection="kraken-md0") == 1
    assert m.value("tradegw_ws_connected", connection="kraken-md0") == 0
    assert m.value("tradegw_ws_reconnects_total", connection="kraken-md0", reason="stale") == 1
    bus.emit("ws.connected", provider="kraken-md0")
    assert m.value("tradegw_ws_connected", connection="kraken-md0") == 1
    assert m.value("tradegw_ws_stale", connection="kraken-md0") == 0

    book = {"provider": "kraken", "symbol": "BTC-USDT"}
    bus.emit("book.resync", reason="checksum", detail="crc 1 != 2", **book)
    bus.emit("checksum.failed", detail="crc 1 != 2", **book)
    bus.emit("book.resync", reason="gap", detail="", **book)
    assert m.value("tradegw_book_resyncs_total", reason="checksum", **book) == 1
    assert m.value("tradegw_book_resyncs_total", reason="gap", **book) == 1
    assert m.value("tradegw_book_checksum_failures_total", **book) == 1
    other = {"provider": "kraken", "symbol": "ETH-USDT"}
    assert m.value("tradegw_book_resyncs_total", reason="gap", **other) is None
    # Still counted by name as before.
    assert m.value("tradegw_telemetry_events_total", name="book.resync") == 2

"""Export the dispatcher's counters to the gateway's :class:`Metrics` (design section 10).

The hot path only bumps plain ints; :class:`DispatcherMetrics` turns them into Prometheus
series once per export (the gateway calls it about once a second from its flush tick), so
no metric call ever sits on the per-event path. Labels are bounded: consumer names come
from config, streams only while they hold events (then set back to 0), and per-consumer
stream series only for streams that were ever throttled (subscriptions bound them).

Per consumer (design sections 9 and 10): delivered events and bytes (totals, and per second
over the last export interval; bytes are the canonical JSON size, sampled), and per
consumer and stream that was throttled: throttled ms, coalesced events, events sent to the
DLQ, events held now.
"""

from __future__ import annotations

from typing import Any

from tradegw_core.bus.data import Lane
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.schema.events import StreamKey

__all__ = ["DispatcherMetrics"]


class DispatcherMetrics:
    """Publishes lane depths, drops, dedup/ordering counters and per-stream buffer depth."""

    def __init__(self, dispatcher: Dispatcher, metrics: Any) -> None:
        self._d = dispatcher
        self._m = metrics
        self._last: dict[tuple[str, ...], int] = {}
        self._held_streams: set[StreamKey] = set()
        self._rates: dict[str, tuple[int, int, int]] = {}

    def _count(self, name: str, value: int, **labels: str) -> None:
        key = (name, *(f"{k}={v}" for k, v in sorted(labels.items())))
        delta = value - self._last.get(key, 0)
        if delta > 0 or key not in self._last:  # the first export creates the series at 0
            self._m.inc(name, delta, **labels)
        self._last[key] = value

    def export(self, now_ns: int | None = None) -> None:
        """Publish the current values (``now_ns``: the dispatcher clock's reading)."""
        d, m = self._d, self._m
        now = d.clock.monotonic_ns() if now_ns is None else now_ns
        in_dlq: dict[str, int] = dict.fromkeys(d.lanes, 0)
        for consumer, _ in d.dlq.items():
            in_dlq[consumer] = in_dlq.get(consumer, 0) + 1
        for consumer, lane in d.lanes.items():
            self._consumer(consumer, lane, now)
            m.set("tradegw_consumer_dlq_size", in_dlq[consumer], consumer=consumer)
            m.set("tradegw_dispatcher_lane_depth", lane.depth, consumer=consumer)
            m.set("tradegw_dispatcher_exec_lane_depth", lane.exec_depth, consumer=consumer)
            stats = lane.stats
            self._count("tradegw_dispatcher_delivered_total", stats.delivered, consumer=consumer)
            self._count(
                "tradegw_dispatcher_exec_delivered_total", stats.exec_delivered, consumer=consumer
            )
            for policy, value in (
                ("dlq", stats.dead_lettered),
                ("drop_oldest", stats.dropped_oldest),
                ("drop_newest", stats.dropped_newest),
            ):
                self._count(
                    "tradegw_dispatcher_lane_dropped_total", value, consumer=consumer, policy=policy
                )
        self._count("tradegw_dispatcher_received_total", d.stats.received)
        self._count("tradegw_dispatcher_duplicates_total", d.stats.duplicates)
        self._count("tradegw_dispatcher_stale_dropped_total", d.ordering.stats.stale_dropped)
        self._count("tradegw_dispatcher_gaps_total", d.ordering.stats.gaps)
        self._count("tradegw_dispatcher_dlq_total", d.dlq.total)
        m.set("tradegw_dispatcher_dlq_size", len(d.dlq))
        m.set("tradegw_dispatcher_routing_version", d.routing_version)
        held_now = set(d.ordering.pending_streams())
        for key in held_now | self._held_streams:
            m.set(
                "tradegw_dispatcher_stream_held",
                d.ordering.held(key),
                provider=key.provider,
                symbol=key.symbol,
                type=key.type.value,
            )
        self._held_streams = held_now

    def _consumer(self, consumer: str, lane: Lane, now: int) -> None:
        m, stats = self._m, lane.stats
        self._count("tradegw_consumer_delivered_bytes_total", stats.bytes, consumer=consumer)
        last = self._rates.get(consumer)
        self._rates[consumer] = (now, stats.delivered, stats.bytes)
        if last is not None and now > last[0]:
            seconds = (now - last[0]) / 1e9
            events_s = (stats.delivered - last[1]) / seconds
            bytes_s = (stats.bytes - last[2]) / seconds
            m.set("tradegw_consumer_delivered_events_per_second", events_s, consumer=consumer)
            m.set("tradegw_consumer_delivered_bytes_per_second", bytes_s, consumer=consumer)
        for gate in lane.throttled:
            key = gate.key
            labels = {
                "consumer": consumer,
                "provider": key.provider,
                "symbol": key.symbol,
                "type": key.type.value,
            }
            throttled = gate.throttled_ns + (0 if gate.idle else max(0, now - gate.since))
            self._count("tradegw_consumer_throttled_ms_total", throttled // 1_000_000, **labels)
            self._count("tradegw_consumer_coalesced_total", gate.coalesced, **labels)
            self._count("tradegw_consumer_dlq_total", gate.dead_lettered, **labels)
            m.set("tradegw_consumer_held", gate.depth, **labels)

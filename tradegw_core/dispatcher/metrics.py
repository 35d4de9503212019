"""Export the dispatcher's counters to the gateway's :class:`Metrics` (design section 10).

The hot path only bumps plain ints; :class:`DispatcherMetrics` turns them into Prometheus
series once per export (the gateway calls it about once a second from its flush tick), so
no metric call ever sits on the per-event path. Labels are bounded: consumer names come
from config, streams only while they hold events (then set back to 0).
"""

from __future__ import annotations

from typing import Any

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

    def _count(self, name: str, value: int, **labels: str) -> None:
        key = (name, *(f"{k}={v}" for k, v in sorted(labels.items())))
        delta = value - self._last.get(key, 0)
        if delta > 0 or key not in self._last:  # the first export creates the series at 0
            self._m.inc(name, delta, **labels)
        self._last[key] = value

    def export(self) -> None:
        """Publish the current values."""
        d, m = self._d, self._m
        for consumer, lane in d.lanes.items():
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

"""``GET /v1/status``: a cheap snapshot of one gateway, as plain JSON-ready data.

Everything here is read from counters the gateway already keeps (no venue calls, no
locks): each provider's supervisor state, each consumer's lane depth and drops, the
routing version, the trading switches and the number of open orders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tradegw_core.orchestrator.merge import merged_stream

if TYPE_CHECKING:
    from tradegw_core.gateway import Gateway
    from tradegw_core.orchestrator.supervisor import Supervisor

__all__ = ["gateway_status"]


@runtime_checkable
class _Switch(Protocol):
    """What status reads of ``orders.switch.TradingSwitch`` (not imported: it is heavy)."""

    def is_enabled(self, consumer_id: str) -> bool: ...

    def own_enabled(self, consumer_id: str) -> bool: ...

    def snapshot(self) -> dict[str, bool]: ...


def _supervised(sup: Supervisor[Any]) -> dict[str, Any]:
    if sup.current is not None:
        state = "running"
    elif sup.gave_up:
        state = "stopped"
    elif sup.last_error:
        state = "restarting"
    else:
        state = "starting"
    return {
        "state": state,
        "required": sup.required,
        "restarts": sup.restarts,
        "last_error": sup.last_error,
    }


def _open_count(service: object, consumer_id: str) -> int | None:
    tracker = getattr(service, "tracker", None)
    count = getattr(tracker, "open_count", None)
    if count is None:
        return None
    return int(count(consumer_id))


def _merges(gw: Gateway) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, windows in gw.merge_stage.merges.items():
        spec, stats = windows.spec, windows.stats
        out[key.label] = {
            "providers": list(spec.providers),
            "window_ms": spec.window_ms,
            "max_count": spec.max_count,
            "consumers": list(gw.dispatcher.routing.consumers(merged_stream(key))),
            "open_windows": windows.open_windows,
            "emitted": stats.emitted,
            "suppressed": stats.suppressed,
            "late": stats.late,
            "rejected": stats.rejected,
        }
    return out


def gateway_status(gw: Gateway) -> dict[str, Any]:
    """The status document: providers, consumers, routing version, trading, open orders,
    and the running merges (by ``SYMBOL/Type``: spec, consumers, window counts).

    ``trading.switches`` lists only the consumers switched explicitly; each consumer's
    ``trading_enabled`` is the effective state (its own switch and the kill switch: false for
    all while the kill switch is off) and ``trading_own_switch`` its own switch.
    ``open_orders`` is None when the gateway has no order path (or one that cannot count).
    """
    service = gw.orders.service
    switch = getattr(service, "switch", None)
    if not isinstance(switch, _Switch):
        switch = None
    consumers: dict[str, Any] = {}
    counts: list[int | None] = []
    for name in gw.consumers:
        lane = gw.dispatcher.lane(name)
        stats = gw.consumer_stats[name]
        open_orders = _open_count(service, name)
        counts.append(open_orders)
        consumers[name] = {
            "lane_depth": lane.depth,
            "lane_size": lane.size,
            "exec_depth": lane.exec_depth,
            "dropped": lane.stats.dropped,
            "delivered": lane.stats.delivered,
            "events": stats.events,
            "errors": stats.errors,
            "streams": len(gw.dispatcher.routing.streams_of(name)),
            "trading_enabled": switch.is_enabled(name) if switch is not None else None,
            "trading_own_switch": switch.own_enabled(name) if switch is not None else None,
            "open_orders": open_orders,
        }
    if switch is not None:
        snapshot = switch.snapshot()
        trading: dict[str, Any] = {
            "configured": True,
            "global_enabled": snapshot.pop("*"),
            "switches": snapshot,
        }
    else:
        trading = {"configured": False, "global_enabled": None, "switches": {}}
    return {
        "routing_version": gw.dispatcher.routing_version,
        "providers": {name: _supervised(sup) for name, sup in gw.providers.items()},
        "order_adapters": {name: _supervised(sup) for name, sup in gw.orders.supervisors.items()},
        "consumers": consumers,
        "trading": trading,
        "open_orders": None if service is None or None in counts else sum(filter(None, counts)),
        "merges": _merges(gw),
    }

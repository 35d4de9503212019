"""The subscription manager: consumers' subscriptions on top of the routing table.

Subscribing twice is idempotent (one route, one copy of each event). The manager reports
which streams gained their first consumer and which lost their last, so the gateway can
subscribe and unsubscribe on the venue exactly then.

Besides consumers' routes, a stream may be *held* by a merge (``hold``/``release``, keyed
by the merge's name): the merge stage needs its fragments although no consumer receives
them as such. The venue subscribes a stream while it has a route or a hold, and only then.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradegw_core.contracts import StreamSpec
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.dispatcher.routing import RouteChange, stream_sort_key
from tradegw_core.schema.control import Subscribe, Unsubscribe
from tradegw_core.schema.events import StreamKey
from tradegw_core.schema.symbols import Symbol

__all__ = ["SubscriptionManager", "expand_streams", "to_specs"]


def expand_streams(msg: Subscribe | Unsubscribe) -> list[StreamKey]:
    """Every (provider, symbol, type) a Subscribe/Unsubscribe names, without repeats."""
    keys = dict.fromkeys(
        StreamKey(p, s, t) for p in msg.providers for s in msg.symbols for t in msg.types
    )
    return list(keys)


def to_specs(keys: Iterable[StreamKey]) -> list[StreamSpec]:
    """The provider-side view of stream keys."""
    return [StreamSpec(Symbol(k.symbol), k.type) for k in keys]


class SubscriptionManager:
    """Idempotent subscribe/unsubscribe and per-consumer listing."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._holds: dict[StreamKey, set[str]] = {}

    def subscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Add routes; ``change.first`` lists streams the venue must now subscribe."""
        change = self._dispatcher.subscribe(consumer_id, keys)
        change.first = [k for k in change.first if k not in self._holds]
        return change

    def unsubscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Remove routes; ``change.last`` lists streams nobody wants any more."""
        change = self._dispatcher.unsubscribe(consumer_id, keys)
        change.last = [k for k in change.last if k not in self._holds]
        return change

    def hold(self, holder: str, keys: Iterable[StreamKey]) -> list[StreamKey]:
        """Keep ``keys`` subscribed for ``holder``; returns those the venue must subscribe."""
        routing = self._dispatcher.routing
        first: list[StreamKey] = []
        for key in keys:
            holders = self._holds.get(key)
            if holders is None:
                holders = self._holds[key] = set()
                if key not in routing:
                    first.append(key)
            holders.add(holder)
        return first

    def release(self, holder: str, keys: Iterable[StreamKey]) -> list[StreamKey]:
        """Drop ``holder``'s holds; returns the streams nobody wants any more."""
        routing = self._dispatcher.routing
        last: list[StreamKey] = []
        for key in keys:
            holders = self._holds.get(key)
            if holders is None or holder not in holders:
                continue
            holders.discard(holder)
            if not holders:
                del self._holds[key]
                if key not in routing:
                    last.append(key)
        return last

    def streams_of(self, consumer_id: str) -> list[StreamKey]:
        """The streams ``consumer_id`` receives."""
        return self._dispatcher.routing.streams_of(consumer_id)

    def consumers(self, key: StreamKey) -> tuple[str, ...]:
        """The consumers of one stream."""
        return self._dispatcher.routing.consumers(key)

    def active(self, provider: str) -> list[StreamKey]:
        """The streams of ``provider`` that a consumer or a merge wants."""
        keys = set(self._dispatcher.routing.streams(provider))
        keys.update(k for k in self._holds if k.provider == provider)
        return sorted(keys, key=stream_sort_key)

    @property
    def routing_version(self) -> int:
        """The routing table version after the latest change."""
        return self._dispatcher.routing_version

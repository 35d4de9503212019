"""The subscription manager: consumers' subscriptions on top of the routing table.

Subscribing twice is idempotent (one route, one copy of each event). The manager reports
which streams gained their first consumer and which lost their last, so the gateway can
subscribe and unsubscribe on the venue exactly then.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradegw_core.contracts import StreamSpec
from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.dispatcher.routing import RouteChange
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

    def subscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Add routes; ``change.first`` lists streams the venue must now subscribe."""
        return self._dispatcher.subscribe(consumer_id, keys)

    def unsubscribe(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Remove routes; ``change.last`` lists streams no consumer wants any more."""
        return self._dispatcher.unsubscribe(consumer_id, keys)

    def streams_of(self, consumer_id: str) -> list[StreamKey]:
        """The streams ``consumer_id`` receives."""
        return self._dispatcher.routing.streams_of(consumer_id)

    def consumers(self, key: StreamKey) -> tuple[str, ...]:
        """The consumers of one stream."""
        return self._dispatcher.routing.consumers(key)

    def active(self, provider: str) -> list[StreamKey]:
        """The streams of ``provider`` that at least one consumer wants."""
        return self._dispatcher.routing.streams(provider)

    @property
    def routing_version(self) -> int:
        """The routing table version after the latest change."""
        return self._dispatcher.routing_version

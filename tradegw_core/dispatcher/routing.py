"""The routing table: StreamKey -> consumers, versioned (design section 5).

Every change (a consumer added to or removed from a stream) increments ``version``; the
orchestrator stamps it on the events that follow. Adding what is there already, or
removing what is not, changes nothing and keeps the version.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradegw_core.schema.events import StreamKey

__all__ = ["RouteChange", "RoutingTable", "stream_sort_key"]


def stream_sort_key(key: StreamKey) -> tuple[str, str, str]:
    """Sort StreamKeys by provider, symbol, type (Structs have no ordering of their own)."""
    return (key.provider, key.symbol, key.type.value)


class RouteChange:
    """What one ``add``/``remove`` call changed."""

    __slots__ = ("changed", "first", "last")

    def __init__(self) -> None:
        self.changed: list[StreamKey] = []
        """Streams whose consumer set changed."""
        self.first: list[StreamKey] = []
        """Streams that had no consumer before an add (the venue must subscribe)."""
        self.last: list[StreamKey] = []
        """Streams left with no consumer after a remove (the venue may unsubscribe)."""


class RoutingTable:
    """StreamKey -> consumer ids (and the reverse index for per-consumer listing)."""

    def __init__(self) -> None:
        self.version = 0
        self._by_stream: dict[StreamKey, tuple[str, ...]] = {}
        self._by_consumer: dict[str, set[StreamKey]] = {}

    def add(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Route ``keys`` to ``consumer_id`` (idempotent)."""
        change = RouteChange()
        mine = self._by_consumer.setdefault(consumer_id, set())
        for key in keys:
            if key in mine:
                continue
            current = self._by_stream.get(key, ())
            if not current:
                change.first.append(key)
            self._by_stream[key] = (*current, consumer_id)
            mine.add(key)
            change.changed.append(key)
            self.version += 1
        return change

    def remove(self, consumer_id: str, keys: Iterable[StreamKey]) -> RouteChange:
        """Stop routing ``keys`` to ``consumer_id`` (removing what is absent is a no-op)."""
        change = RouteChange()
        mine = self._by_consumer.get(consumer_id)
        if not mine:
            return change
        for key in keys:
            if key not in mine:
                continue
            mine.discard(key)
            rest = tuple(c for c in self._by_stream[key] if c != consumer_id)
            if rest:
                self._by_stream[key] = rest
            else:
                del self._by_stream[key]
                change.last.append(key)
            change.changed.append(key)
            self.version += 1
        return change

    def remove_consumer(self, consumer_id: str) -> RouteChange:
        """Drop every route of ``consumer_id``."""
        change = self.remove(
            consumer_id, sorted(self._by_consumer.get(consumer_id, ()), key=stream_sort_key)
        )
        self._by_consumer.pop(consumer_id, None)
        return change

    def consumers(self, key: StreamKey) -> tuple[str, ...]:
        """The consumers of ``key``, in subscription order."""
        return self._by_stream.get(key, ())

    def streams_of(self, consumer_id: str) -> list[StreamKey]:
        """Every stream routed to ``consumer_id``, sorted."""
        return sorted(self._by_consumer.get(consumer_id, ()), key=stream_sort_key)

    def streams(self, provider: str | None = None) -> list[StreamKey]:
        """Every stream with at least one consumer (optionally of one provider), sorted."""
        return sorted(
            (k for k in self._by_stream if provider is None or k.provider == provider),
            key=stream_sort_key,
        )

    def __contains__(self, key: object) -> bool:
        return key in self._by_stream

"""The orchestrator's hot path: stamp each event, hand it to the dispatcher (synchronously).

Called through ``ProviderContext.emit`` inside the provider's reader task. It stamps
``routing_version`` (the version of the routing table the event is routed under) and a
``trace_id`` when the provider set none; trace ids are a per-orchestrator random prefix
plus a decimal counter, unique per process run and far cheaper than a uuid per event.

Windowed merges (design section 7): while at least one merge runs, the gateway's
:class:`~tradegw_core.orchestrator.merge.MergeStage` is set on ``merge``; it sees every event
after stamping and hands the MergedEvents of complete windows to the dispatcher itself; the
event then continues to the dispatcher as usual. With no merge running, ``merge`` is None and
events pay nothing for it.
"""

from __future__ import annotations

import secrets

from tradegw_core.dispatcher.dispatcher import Dispatcher
from tradegw_core.orchestrator.merge import MergeStage
from tradegw_core.schema.events import Event

__all__ = ["Orchestrator"]


class Orchestrator:
    """Pass-through between providers and the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, *, merge: MergeStage | None = None) -> None:
        self._dispatcher = dispatcher
        self._routing = dispatcher.routing
        self._dispatch = dispatcher.dispatch
        self.merge = merge
        self._prefix = f"{secrets.token_hex(4)}-"
        self._counter = 0
        self.forwarded = 0

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher events are forwarded to."""
        return self._dispatcher

    def emit(self, event: Event) -> None:
        """Stamp ``event`` and forward it (never awaits)."""
        event.routing_version = self._routing.version
        if not event.trace_id:
            self._counter = counter = self._counter + 1
            event.trace_id = self._prefix + str(counter)  # a decimal counter: cheapest form
        if self.merge is not None:
            self.merge.offer(event)
        self.forwarded += 1
        self._dispatch(event)

"""Per venue: may orders be sent now, and reconciliation each time its order adapter runs.

A :class:`VenueGate` answers "can a submission to this venue be sent now?" for the order
service: not while the venue's order adapter is not running (connecting at start-up, or
restarting: the gateway's ``adapter_down`` says why) and not while that venue's orders are
being reconciled. Such a submission is refused as retryable; nothing is sent, never
UNKNOWN.

:meth:`VenueGate.started` is called each time an adapter runs (the supervisor's
``on_started``). At its first run the orders the journal left open or of unknown outcome are
reconciled by query (their owners are told every answer, as after any restart of the
process); after a restart of the adapter or its user stream every open, acknowledged order
of that venue is queried and only what the owner has not heard yet is delivered, in order:
fills and final states the user stream missed while it was down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import anyio
from anyio.abc import TaskGroup

from tradegw_core.contracts_orders import OrderAdapter
from tradegw_core.orders.recovery import Resolver
from tradegw_core.orders.reports import ReportPipeline
from tradegw_core.orders.state import OrderStateTracker, TrackedOrder

__all__ = ["InFlight", "VenueGate"]

Pending = list[tuple[TrackedOrder, bool]]
"""(order, never_acked) pairs waiting for reconciliation."""


class InFlight:
    """Counts submissions in progress; :meth:`wait_idle` waits until there are none."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = anyio.Event()

    def enter(self) -> None:
        """One more submission in progress."""
        self.count += 1

    def leave(self) -> None:
        """One submission done."""
        self.count -= 1
        if not self.count:
            self._idle.set()
            self._idle = anyio.Event()

    async def wait_idle(self) -> None:
        """Until no submission is in progress."""
        while self.count:
            await self._idle.wait()


class VenueGate:
    """Availability and reconciliation of each venue's orders (module docstring)."""

    def __init__(
        self,
        adapters: Mapping[str, OrderAdapter],
        *,
        resolver: Resolver,
        tracker: OrderStateTracker,
        pipeline: ReportPipeline,
        log: logging.Logger,
        adapter_down: Callable[[str], str | None] | None = None,
    ) -> None:
        self._adapters = adapters
        self._resolver = resolver
        self._tracker = tracker
        self._pipeline = pipeline
        self._log = log
        self._adapter_down: Callable[[str], str | None] = adapter_down or (lambda name: None)
        self._pending: dict[str, Pending] = {}
        self._reconciled: dict[str, anyio.Event] = {name: anyio.Event() for name in adapters}

    def load(self, reloaded: Iterable[tuple[TrackedOrder, bool]]) -> Pending:
        """Keep the journal's open/unknown orders for their venue's first reconciliation;
        return those of venues without an adapter."""
        self._pending = {name: [] for name in self._adapters}
        orphans: Pending = []
        for order, never_acked in reloaded:
            target = self._pending.get(order.provider)
            (orphans if target is None else target).append((order, never_acked))
        return orphans

    def started(self, tg: TaskGroup, provider: str, restarted: bool) -> None:
        """``provider``'s adapter runs (again): reconcile its orders in ``tg``."""
        done = self._reconciled.get(provider)
        if done is None or done.is_set():
            done = self._reconciled[provider] = anyio.Event()
        tg.start_soon(self._reconcile, provider, restarted, done)

    async def _reconcile(self, provider: str, restarted: bool, done: anyio.Event) -> None:
        try:
            first = provider in self._pending or not restarted
            reloaded = self._pending.pop(provider, [])
            if first:
                await self._resolver.reconcile(reloaded, provider=provider)
            if restarted:
                seen = {o.client_order_id for o, _ in reloaded}
                live = [
                    (o, False)
                    for o in self._tracker.open_of(provider)
                    if o.state is not None and o.client_order_id not in seen
                ]
                self._log.info(
                    "order adapter %r restarted: reconciling %d open order(s) by query",
                    provider,
                    len(live),
                )
                await self._resolver.reconcile(live, force=False, provider=provider)
            await self._pipeline.wait_flushed()
        finally:
            done.set()

    async def wait_reconciled(self, provider: str) -> None:
        """Until ``provider``'s orders are reconciled after its adapter's latest start."""
        while (done := self._reconciled.get(provider)) is not None and not done.is_set():
            await done.wait()

    def unavailable(self, provider: str) -> str | None:
        """Why a submission to ``provider`` cannot be sent now (None: it can)."""
        down = self._adapter_down(provider)
        if down is not None:
            return down
        done = self._reconciled.get(provider)
        if done is not None and not done.is_set():
            return f"reconciling the open orders of {provider!r} with the venue; retry shortly"
        return None

    async def resolve_unknown(self) -> None:
        """Query every order whose submission outcome is still unknown (at shutdown)."""
        unknown = [
            (o, True) for name in self._adapters for o in self._tracker.open_of(name)
            if o.state is None
        ]  # fmt: skip
        if unknown:
            self._log.info("shutdown: resolving %d order(s) of unknown outcome", len(unknown))
            await self._resolver.reconcile(unknown, force=False)
        await self._pipeline.wait_flushed()

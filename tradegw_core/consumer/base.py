"""The base class strategies may derive from: every callback is a no-op by default."""

from __future__ import annotations

from collections.abc import Sequence

from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import Event, ExecReport

__all__ = ["Consumer"]


class Consumer:
    """A strategy implementing ``contracts.Consumer`` with no-op defaults.

    Override what you need. ``on_start`` keeps the context as ``self.ctx``; call
    ``await super().on_start(ctx)`` when you override it, then subscribe.

    Market data comes in batches (whatever queued since the consumer's last turn).
    Override :meth:`on_events` to take a whole batch in one call (the cheapest way: one
    coroutine per batch); by default the gateway calls :meth:`on_event` once per event.
    """

    ctx: ConsumerContext | None = None

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Called once before any event; keeps ``ctx``."""
        self.ctx = ctx

    async def on_events(self, events: Sequence[Event]) -> None:
        """A batch of market-data events, in order; calls :meth:`on_event` for each."""
        for event in events:
            await self.on_event(event)

    async def on_event(self, event: Event) -> None:
        """One market-data event; ignored by default."""

    async def on_exec_report(self, report: ExecReport) -> None:
        """One execution report of this consumer's orders; ignored by default."""

    async def on_stop(self) -> None:
        """Called once at shutdown; does nothing by default."""

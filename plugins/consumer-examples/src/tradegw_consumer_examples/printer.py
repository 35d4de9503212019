"""The ``printer`` consumer: subscribes to what its settings say and logs every event."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tradegw_core.contracts import ConsumerContext
from tradegw_core.schema.events import Event, EventType, ExecReport

__all__ = ["PrinterConsumer", "PrinterSettings"]


class PrinterSettings(BaseModel):
    """``[consumers.printer]``: what to subscribe to. Nothing is subscribed when empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    types: tuple[EventType, ...] = (EventType.TRADE, EventType.TICKER)
    max_levels: int = Field(default=3, ge=0)
    """Book levels per side shown for BookSnapshot / BookUpdate events."""


def _summary(event: Event, max_levels: int) -> dict[str, Any]:
    """The fields worth a log line for each event type."""
    fields: dict[str, Any] = {
        "type": str(event.TYPE),
        "provider": event.provider,
        "symbol": event.symbol,
        "event_id": event.event_id,
    }
    if event.seq_provider is not None:
        fields["seq"] = event.seq_provider
    for name in ("price", "qty", "side", "bid_price", "ask_price", "last_price", "close"):
        value = getattr(event, name, None)
        if value is not None:
            fields[name] = str(value)
    for side in ("bids", "asks"):
        levels = getattr(event, side, None)
        if levels is not None:
            fields[side] = [f"{lv.qty}@{lv.price}" for lv in levels[:max_levels]]
    return fields


class PrinterConsumer:
    """Logs every event and execution report it receives through its context's logger.

    Fields go in ``extra=`` so any stdlib-compatible logger works (``ctx.log``).
    """

    def __init__(self, settings: PrinterSettings | None = None) -> None:
        self.settings = settings if settings is not None else PrinterSettings()
        self.events = 0
        self.reports = 0
        self._log: Any = None

    async def on_start(self, ctx: ConsumerContext) -> None:
        """Subscribe to the configured providers, symbols and types."""
        self._log = ctx.log
        s = self.settings
        if not (s.providers and s.symbols and s.types):
            self._log.warning(
                "printer.nothing_to_subscribe",
                extra={"hint": "set providers, symbols and types in [consumers.printer]"},
            )
            return
        ack = await ctx.subscribe(s.providers, s.symbols, s.types)
        if ack.ok:
            self._log.info(
                "printer.subscribed",
                extra={
                    "providers": list(s.providers),
                    "symbols": list(s.symbols),
                    "types": [str(t) for t in s.types],
                },
            )
        else:
            self._log.error("printer.subscribe_failed", extra={"error": ack.error})

    async def on_event(self, event: Event) -> None:
        """Log one market-data event."""
        self.events += 1
        if self._log is not None:
            self._log.info("printer.event", extra=_summary(event, self.settings.max_levels))

    async def on_exec_report(self, report: ExecReport) -> None:
        """Log one execution report."""
        self.reports += 1
        if self._log is not None:
            self._log.info(
                "printer.exec_report",
                extra={
                    "client_order_id": report.client_order_id,
                    "state": str(report.state),
                    "cum_qty": str(report.cum_qty),
                    "decision_id": report.decision_id,
                },
            )

    async def on_stop(self) -> None:
        """Log how much was printed."""
        if self._log is not None:
            self._log.info(
                "printer.stopped", extra={"events": self.events, "reports": self.reports}
            )

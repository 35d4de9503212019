"""The trading switch: one per consumer, plus a global kill switch.

An order is allowed only while both the global switch and the consumer's own switch are on:
with the kill switch off nothing reaches any venue, whatever the per-consumer switches say.
``set(None, enabled)`` flips the global kill switch and leaves the per-consumer switches as
they are, so turning it back on restores each consumer's own switch (and does not re-enable a
consumer an operator had switched off). Cancels are never gated: an operator who pulls the
kill switch must still be able to take risk off the venue.

At start-up (``trading_enabled_on_start``) the value sets the *global* switch; every
consumer's own switch starts on. So ``false`` holds every order behind the kill switch and
one ``SetTradingMode(enabled=true)`` (consumer_id null) lets every consumer trade, while an
operator who wants a staged start switches single consumers off before that go.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from tradegw_core.contracts import Telemetry
from tradegw_core.schema.control import Ack, SetTradingMode

__all__ = ["TradingSwitch"]


class TradingSwitch:
    """Holds the on/off state; the gateway's control-bus handler calls :meth:`apply`.

    ``global_on_start`` is the kill switch's state at start-up (see
    ``OrderPathSettings.trading_enabled_on_start``); a consumer nobody switched yet has its
    own switch on. ``known_consumers``, when given, makes
    SetTradingMode for an unknown consumer fail with a clear error instead of silently
    creating a switch nobody uses.
    """

    def __init__(
        self,
        *,
        global_on_start: bool = True,
        known_consumers: Callable[[], Collection[str]] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._global = global_on_start
        self._consumers: dict[str, bool] = {}
        self._known = known_consumers
        self._telemetry = telemetry

    @property
    def global_enabled(self) -> bool:
        """The kill switch: False stops every consumer's orders."""
        return self._global

    def set(self, consumer_id: str | None, enabled: bool) -> None:
        """Switch one consumer (or, with None, the global kill switch) on or off."""
        if consumer_id is None:
            self._global = enabled
        else:
            self._consumers[consumer_id] = enabled
        if self._telemetry is not None:
            self._telemetry.emit(
                "trading.mode_changed", consumer_id=consumer_id or "*", enabled=enabled
            )

    def is_enabled(self, consumer_id: str) -> bool:
        """True when ``consumer_id`` may send orders now."""
        return self._global and self.own_enabled(consumer_id)

    def own_enabled(self, consumer_id: str) -> bool:
        """The consumer's own switch, whatever the kill switch says."""
        return self._consumers.get(consumer_id, True)

    def why_disabled(self, consumer_id: str) -> str | None:
        """None when trading is on, else a sentence saying which switch is off."""
        if not self._global:
            return "the global kill switch is off; send SetTradingMode(enabled=true) to resume"
        if not self.own_enabled(consumer_id):
            return (
                f"trading is off for consumer {consumer_id!r}; send "
                f"SetTradingMode(consumer_id={consumer_id!r}, enabled=true) to resume"
            )
        return None

    def apply(self, msg: SetTradingMode) -> Ack:
        """Handle a SetTradingMode control message and return its Ack."""
        if msg.consumer_id is not None and self._known is not None:
            known = self._known()
            if msg.consumer_id not in known:
                names = ", ".join(sorted(known)) or "none"
                return Ack(
                    request_id=msg.request_id,
                    ok=False,
                    error=f"unknown consumer {msg.consumer_id!r} (configured: {names})",
                )
        self.set(msg.consumer_id, msg.enabled)
        return Ack(request_id=msg.request_id, ok=True)

    def snapshot(self) -> dict[str, bool]:
        """The switches set explicitly, plus ``"*"`` for the global one (for the HTTP API)."""
        return {"*": self._global, **self._consumers}

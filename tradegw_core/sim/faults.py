"""Scriptable fault injection for the venue emulators.

A :class:`FaultPlan` holds rules; each rule has a predicate, an action and a count. The
emulator base consults the plan at three points:

- every outgoing WebSocket frame (``plan.ws(...)``): :class:`Drop`, :class:`Duplicate`,
  :class:`Reorder` (swap with the next frame), :class:`Delay`, :class:`Corrupt` (the
  venue's own corruption, e.g. a wrong checksum), :class:`Close`, :class:`Stall`;
- every HTTP request before its handler (``plan.http(...)``): :class:`Status` (429 with
  Retry-After, 418, 5xx), :class:`Slow`, :class:`AcceptThenTimeout` (the handler runs, so
  an order is applied, but the answer never comes: an unknown outcome for the client);
- every order a :class:`~tradegw_core.sim.matching.MatchingEngine` is asked to place
  (``plan.order(...)``): :class:`RejectOrder`.

Example::

    plan = FaultPlan()
    plan.ws(Drop(), match=lambda conn, frame: '"depth"' in str(frame), count=1)
    plan.http(Status(429, retry_after=2), match=lambda req: req.path == "/api/v3/order")
    plan.order(RejectOrder("venue busy"), count=1)

Rules are tried in the order they were added; the first whose predicate matches and which
has shots left fires (``count=None`` fires forever). ``rule.fired`` counts the shots.
Each :class:`~tradegw_core.sim.connection.WsConnection` also has its own plan
(``conn.faults``), consulted before the emulator-wide one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "AcceptThenTimeout",
    "Close",
    "Corrupt",
    "Delay",
    "Drop",
    "Duplicate",
    "FaultPlan",
    "FaultRule",
    "HttpAction",
    "OrderAction",
    "RejectOrder",
    "Reorder",
    "Slow",
    "Stall",
    "Status",
    "WsAction",
    "rule_from_spec",
]


@dataclass(frozen=True)
class Drop:
    """Do not send the frame (a gap for sequence-numbered feeds)."""


@dataclass(frozen=True)
class Duplicate:
    """Send the frame ``1 + times`` times."""

    times: int = 1


@dataclass(frozen=True)
class Reorder:
    """Hold the frame and send it right after the next one."""


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before sending the frame (later frames wait behind it)."""

    seconds: float


@dataclass(frozen=True)
class Corrupt:
    """Send a corrupted frame: ``fn(frame)`` or else the emulator's ``corrupt_frame``."""

    fn: Callable[[str | bytes], str | bytes] | None = None


@dataclass(frozen=True)
class Close:
    """Close the WebSocket instead of sending the frame."""

    code: int = 1011
    reason: str = "fault injected"


@dataclass(frozen=True)
class Stall:
    """Stop sending (frames are discarded, the socket stays open) for ``seconds``.

    ``seconds=None`` stalls until the connection ends.
    """

    seconds: float | None = None


@dataclass(frozen=True)
class Status:
    """Answer the HTTP request with ``status`` instead of running its handler.

    ``retry_after`` adds a ``Retry-After`` header (seconds); ``body`` is sent as JSON
    (default ``{"error": "<status> injected"}``).
    """

    status: int
    retry_after: int | None = None
    body: Any = None


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` before running the handler."""

    seconds: float


@dataclass(frozen=True)
class AcceptThenTimeout:
    """Run the handler (the venue applies the order) but never answer.

    The request is held until the client gives up and disconnects (or the emulator
    stops); the client sees a timeout, an unknown outcome it must resolve by querying.
    """


@dataclass(frozen=True)
class RejectOrder:
    """The matching engine rejects the order with ``RejectReason.INJECTED`` and ``message``."""

    message: str = "rejected by fault injection"


WsAction = Drop | Duplicate | Reorder | Delay | Corrupt | Close | Stall
HttpAction = Status | Slow | AcceptThenTimeout
OrderAction = RejectOrder

A = TypeVar("A")


@dataclass
class FaultRule(Generic[A]):
    """One scripted fault: fires ``action`` on matching items, ``count`` times (None: always).

    ``skip`` lets that many matching items pass before the rule starts firing.
    """

    action: A
    match: Callable[..., bool] | None = None
    count: int | None = 1
    skip: int = 0
    fired: int = 0
    seen: int = field(default=0, repr=False)

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired ``count`` times."""
        return self.count is not None and self.fired >= self.count

    def _try(self, *item: Any) -> bool:
        if self.exhausted:
            return False
        if self.match is not None and not self.match(*item):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.fired += 1
        return True


class FaultPlan:
    """An ordered set of fault rules for WebSocket frames, HTTP requests and orders."""

    def __init__(self) -> None:
        self._ws: list[FaultRule[WsAction]] = []
        self._http: list[FaultRule[HttpAction]] = []
        self._order: list[FaultRule[OrderAction]] = []

    def ws(
        self,
        action: WsAction,
        *,
        match: Callable[[Any, str | bytes], bool] | None = None,
        count: int | None = 1,
        skip: int = 0,
    ) -> FaultRule[WsAction]:
        """Add a rule for outgoing frames; ``match(conn, frame)`` selects them."""
        rule: FaultRule[WsAction] = FaultRule(action, match, count, skip)
        self._ws.append(rule)
        return rule

    def http(
        self,
        action: HttpAction,
        *,
        match: Callable[[Any], bool] | None = None,
        count: int | None = 1,
        skip: int = 0,
    ) -> FaultRule[HttpAction]:
        """Add a rule for HTTP requests; ``match(request)`` selects them."""
        rule: FaultRule[HttpAction] = FaultRule(action, match, count, skip)
        self._http.append(rule)
        return rule

    def order(
        self,
        action: OrderAction,
        *,
        match: Callable[[Any], bool] | None = None,
        count: int | None = 1,
        skip: int = 0,
    ) -> FaultRule[OrderAction]:
        """Add a rule for order placement; ``match(intent)`` gets an ``OrderIntent``."""
        rule: FaultRule[OrderAction] = FaultRule(action, match, count, skip)
        self._order.append(rule)
        return rule

    def ws_action(self, conn: Any, frame: str | bytes) -> WsAction | None:
        """The action for this outgoing frame, or None to send it as is."""
        return _first(self._ws, conn, frame)

    def http_action(self, request: Any) -> HttpAction | None:
        """The action for this HTTP request, or None to handle it normally."""
        return _first(self._http, request)

    def order_action(self, intent: Any) -> OrderAction | None:
        """The action for this order, or None to place it normally."""
        return _first(self._order, intent)

    def clear(self) -> None:
        """Remove every rule."""
        self._ws.clear()
        self._http.clear()
        self._order.clear()

    @property
    def empty(self) -> bool:
        """True when no rule is left that can still fire."""
        rules: list[FaultRule[Any]] = [*self._ws, *self._http, *self._order]
        return all(r.exhausted for r in rules)


def _first(rules: list[FaultRule[A]], *item: Any) -> A | None:
    for rule in rules:
        if rule._try(*item):
            return rule.action
    return None


_WS_ACTIONS: dict[str, Callable[[Mapping[str, Any]], WsAction]] = {
    "drop": lambda s: Drop(),
    "duplicate": lambda s: Duplicate(int(s.get("times", 1))),
    "reorder": lambda s: Reorder(),
    "delay": lambda s: Delay(float(s["seconds"])),
    "corrupt": lambda s: Corrupt(),
    "close": lambda s: Close(int(s.get("code", 1011)), str(s.get("reason", "fault injected"))),
    "stall": lambda s: Stall(float(s["seconds"]) if s.get("seconds") is not None else None),
}
_HTTP_ACTIONS: dict[str, Callable[[Mapping[str, Any]], HttpAction]] = {
    "status": lambda s: Status(int(s["status"]), s.get("retry_after"), s.get("body")),
    "slow": lambda s: Slow(float(s["seconds"])),
    "accept_then_timeout": lambda s: AcceptThenTimeout(),
}


def rule_from_spec(plan: FaultPlan, spec: Mapping[str, Any]) -> FaultRule[Any]:
    """Add a rule described as JSON (the emulator control endpoint uses this).

    ``{"target": "ws", "action": "drop", "contains": "depth", "count": 1}``;
    targets ``ws`` (match: ``contains`` in the frame, ``path`` of the connection), ``http``
    (``path``, ``method``) and ``order`` (``client_order_id``). Raises ValueError.
    """
    target, action = spec.get("target"), spec.get("action")
    count = spec.get("count", 1)
    count = None if count is None else int(count)
    skip = int(spec.get("skip", 0))
    path, contains = spec.get("path"), spec.get("contains")
    try:
        if target == "ws" and action in _WS_ACTIONS:

            def ws_match(conn: Any, frame: str | bytes) -> bool:
                text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
                return (path is None or conn.path == path) and (
                    contains is None or contains in text
                )

            return plan.ws(_WS_ACTIONS[action](spec), match=ws_match, count=count, skip=skip)
        if target == "http" and action in _HTTP_ACTIONS:
            method = spec.get("method")

            def http_match(request: Any) -> bool:
                return (path is None or request.path == path) and (
                    method is None or request.method == str(method).upper()
                )

            return plan.http(_HTTP_ACTIONS[action](spec), match=http_match, count=count, skip=skip)
        if target == "order" and action == "reject":
            coid = spec.get("client_order_id")
            return plan.order(
                RejectOrder(str(spec.get("message", "rejected by fault injection"))),
                match=lambda intent: coid is None or intent.client_order_id == coid,
                count=count,
                skip=skip,
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad fault spec {dict(spec)!r}: {exc!r}") from exc
    raise ValueError(f"unknown fault target/action {target!r}/{action!r}")

"""Fault plans: rule order, counts, skips and JSON specs (the control endpoint's input)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tradegw_core.sim import Close, Delay, Drop, Duplicate, FaultPlan, Stall, Status
from tradegw_core.sim.faults import AcceptThenTimeout, RejectOrder, Slow, rule_from_spec


@dataclass
class _Conn:
    path: str


@dataclass
class _Req:
    method: str
    path: str


@dataclass
class _Intent:
    client_order_id: str


def test_first_matching_rule_with_shots_left_fires() -> None:
    plan = FaultPlan()
    once = plan.ws(Drop(), match=lambda c, f: f == "x")
    always = plan.ws(Duplicate(), count=None)
    conn = _Conn("/ws")
    assert [plan.ws_action(conn, f) for f in ("x", "x", "y")] == [Drop(), Duplicate(), Duplicate()]
    assert (once.fired, once.exhausted, always.fired, always.exhausted) == (1, True, 2, False)
    assert not plan.empty
    plan.clear()
    assert plan.ws_action(conn, "x") is None
    assert plan.empty


def test_skip_lets_matching_items_pass_first() -> None:
    plan = FaultPlan()
    plan.http(Status(503), skip=2, count=1)
    assert [plan.http_action(_Req("GET", "/")) for _ in range(4)] == [None, None, Status(503), None]


def test_specs_build_the_same_rules_as_code() -> None:
    plan = FaultPlan()
    rule_from_spec(plan, {"target": "ws", "action": "close", "code": 4000, "path": "/ws"})
    rule_from_spec(plan, {"target": "ws", "action": "delay", "seconds": 0.5, "contains": "d"})
    rule_from_spec(plan, {"target": "ws", "action": "stall", "count": None})
    assert plan.ws_action(_Conn("/other"), b"depth") == Delay(0.5)
    assert plan.ws_action(_Conn("/ws"), "x") == Close(4000, "fault injected")
    assert plan.ws_action(_Conn("/ws"), "x") == Stall(None)
    rule_from_spec(plan, {"target": "http", "action": "status", "status": 429, "retry_after": 1})
    rule_from_spec(plan, {"target": "http", "action": "slow", "seconds": 1, "method": "post"})
    rule_from_spec(plan, {"target": "http", "action": "accept_then_timeout", "path": "/o"})
    assert plan.http_action(_Req("GET", "/")) == Status(429, 1)
    assert plan.http_action(_Req("GET", "/o")) == AcceptThenTimeout()
    assert plan.http_action(_Req("POST", "/x")) == Slow(1.0)
    rule_from_spec(plan, {"target": "order", "action": "reject", "client_order_id": "c9"})
    assert plan.order_action(_Intent("c1")) is None
    assert plan.order_action(_Intent("c9")) == RejectOrder("rejected by fault injection")


@pytest.mark.parametrize(
    "spec",
    [
        {"target": "ws", "action": "explode"},
        {"target": "tcp", "action": "drop"},
        {"target": "ws", "action": "delay"},
        {"target": "http", "action": "status", "status": "teapot"},
    ],
)
def test_bad_specs_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="fault"):
        rule_from_spec(FaultPlan(), spec)

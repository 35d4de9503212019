"""Request/ack bookkeeping: one ack per symbol, failures with or without a symbol, bounds."""

from __future__ import annotations

import pytest
from tradegw_kraken.schemas import KrakenFrameMsg
from tradegw_kraken.wsrequests import PendingRequests

from tradegw_core.errors import ControlError


def test_one_ack_per_symbol_completes_the_request() -> None:
    reqs = PendingRequests()
    req = reqs.open(["BTC/USD", "ETH/USD"])
    ok = KrakenFrameMsg(method="subscribe", success=True, req_id=req.req_id)
    assert reqs.on_answer(ok, "BTC/USD")
    assert not req.done.is_set()
    assert reqs.on_answer(ok, "ETH/USD")
    assert req.done.is_set()
    assert req.errors == {}


def test_failure_naming_a_symbol_and_failure_without_one() -> None:
    reqs = PendingRequests()
    req = reqs.open(["BTC/USD", "XBT/USD", "ETH/USD"])
    bad = KrakenFrameMsg(method="subscribe", success=False, error="Currency pair not supported",
                         req_id=req.req_id)  # fmt: skip
    reqs.on_answer(bad, "XBT/USD")
    assert req.errors == {"XBT/USD": "Currency pair not supported"}
    depth = KrakenFrameMsg(method="subscribe", success=False,
                           error="Subscription depth not supported", req_id=req.req_id)  # fmt: skip
    reqs.on_answer(depth, None)  # no symbol: every symbol still waiting failed
    assert req.done.is_set()
    assert req.errors["BTC/USD"] == req.errors["ETH/USD"] == "Subscription depth not supported"


def test_unknown_req_id_and_the_bound() -> None:
    reqs = PendingRequests(limit=1)
    assert not reqs.on_answer(KrakenFrameMsg(method="pong", req_id=99), None)
    first = reqs.open(["A/B"])
    with pytest.raises(ControlError, match="waiting for acks"):
        reqs.open(["C/D"])
    reqs.close(first)
    assert reqs.open([]).done.is_set()

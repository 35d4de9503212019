"""The ledger refuses anything that would make a balance negative."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradegw_core.sim import Balance, Ledger
from tradegw_core.sim.ledger import LedgerError


def test_reserve_release_spend_and_refusals() -> None:
    ledger = Ledger()
    ledger.deposit("a", "USDT", D(100))
    assert ledger.reserve("a", "USDT", D(60))
    assert not ledger.reserve("a", "USDT", D(50))
    assert not ledger.reserve("a", "USDT", D(-1))
    ledger.release("a", "USDT", D(10))
    ledger.spend_locked("a", "USDT", D(50))
    assert ledger.balance("a", "USDT") == Balance(D(50), D(0))
    assert ledger.balance("a", "USDT").total == D(50)
    assert ledger.balance("a", "BTC") == Balance()
    assert ledger.accounts() == ["a"]
    with pytest.raises(LedgerError, match="locked"):
        ledger.spend_locked("a", "USDT", D(1))
    with pytest.raises(LedgerError, match="negative"):
        ledger.deposit("a", "USDT", D(-1))
    with pytest.raises(LedgerError, match="negative"):
        ledger.credit("a", "USDT", D(-1))

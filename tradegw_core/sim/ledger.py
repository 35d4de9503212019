"""Per-account balances of one emulated venue: free and locked, never negative."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Balance", "Ledger", "LedgerError"]

_ZERO = Decimal(0)


class LedgerError(ValueError):
    """An operation would make a balance negative (a bug in the caller, never a user error)."""


@dataclass(frozen=True)
class Balance:
    """One asset of one account."""

    free: Decimal = _ZERO
    locked: Decimal = _ZERO

    @property
    def total(self) -> Decimal:
        """free + locked."""
        return self.free + self.locked


class Ledger:
    """Balances by (account, asset). Reserve on place, release on cancel, settle on fill."""

    def __init__(self) -> None:
        self._free: dict[tuple[str, str], Decimal] = {}
        self._locked: dict[tuple[str, str], Decimal] = {}

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        """Add ``amount`` (>= 0) to the free balance (creates the account)."""
        if amount < 0:
            raise LedgerError(f"cannot deposit a negative amount {amount}")
        self.credit(account, asset, amount)

    def balance(self, account: str, asset: str) -> Balance:
        """The balance of ``asset`` (zero when unknown)."""
        key = (account, asset)
        return Balance(self._free.get(key, _ZERO), self._locked.get(key, _ZERO))

    def balances(self, account: str) -> dict[str, Balance]:
        """Every asset of ``account``."""
        assets = {a for (acc, a) in (*self._free, *self._locked) if acc == account}
        return {a: self.balance(account, a) for a in sorted(assets)}

    def accounts(self) -> list[str]:
        """Every account with a balance entry."""
        return sorted({acc for acc, _ in self._free})

    def reserve(self, account: str, asset: str, amount: Decimal) -> bool:
        """Move ``amount`` from free to locked; False (nothing moves) when free is short."""
        key = (account, asset)
        free = self._free.get(key, _ZERO)
        if amount < 0 or free < amount:
            return False
        self._free[key] = free - amount
        self._locked[key] = self._locked.get(key, _ZERO) + amount
        return True

    def release(self, account: str, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from locked back to free."""
        self.spend_locked(account, asset, amount)
        self.credit(account, asset, amount)

    def spend_locked(self, account: str, asset: str, amount: Decimal) -> None:
        """Remove ``amount`` from locked (it was paid away)."""
        key = (account, asset)
        locked = self._locked.get(key, _ZERO)
        if amount < 0 or locked < amount:
            raise LedgerError(f"{account}/{asset}: cannot take {amount} from locked {locked}")
        self._locked[key] = locked - amount

    def credit(self, account: str, asset: str, amount: Decimal) -> None:
        """Add ``amount`` to free."""
        if amount < 0:
            raise LedgerError(f"{account}/{asset}: cannot credit a negative amount {amount}")
        key = (account, asset)
        self._free[key] = self._free.get(key, _ZERO) + amount

    def dump(self) -> list[list[str]]:
        """Every balance as ``[account, asset, free, locked]`` rows (JSON-ready)."""
        keys = sorted({*self._free, *self._locked})
        return [[acc, asset, str(self._free.get((acc, asset), _ZERO)),
                 str(self._locked.get((acc, asset), _ZERO))] for acc, asset in keys]  # fmt: skip

    def load(self, rows: list[list[str]]) -> None:
        """Replace every balance with a :meth:`dump`."""
        self._free = {(acc, asset): Decimal(free) for acc, asset, free, _ in rows}
        self._locked = {(acc, asset): Decimal(locked) for acc, asset, _, locked in rows}

"""Value sanity at the edge for Coinbase's decimal strings (``"68900.00"``).

Coinbase sends prices and sizes as JSON strings. ``Decimal`` would accept far more than
the venue ever sends (``"NaN"``, ``"sNaN"``, ``"Infinity"``, ``"1_000"``, ``" 1 "``,
full-width digits such as U+FF11 U+FF12 U+FF13), so a value is accepted only as plain ASCII
``digits[.digits]`` with no more decimals than the product's precision, prices > 0. A
failing value raises :class:`RejectedFrameError`; the frame is rejected
(``ctx.reject_frame``) and nothing of it reaches a consumer.
"""

from __future__ import annotations

from decimal import Decimal

from tradegw_core.errors import RejectedFrameError

__all__ = ["amount", "decimal", "price", "ticks"]

_POW10: tuple[int, ...] = tuple(10**n for n in range(40))


def ticks(text: str, precision: int) -> int:
    """``text`` (ASCII ``digits[.digits]``, at most ``precision`` decimals, below 10**18)
    as integer ticks."""
    whole, dot, frac = text.partition(".")
    n = len(frac)
    if (
        n > precision
        or len(whole) > 18
        or not whole.isdigit()
        or not (frac.isdigit() or not (n or dot))
        or not text.isascii()
    ):
        raise RejectedFrameError(f"{text[:40]!r} is not a number >= 0 with <= {precision} decimals")
    return int(whole + frac) * _POW10[precision - n]


def decimal(text: str, precision: int) -> Decimal:
    """A quantity >= 0 checked like :func:`ticks`, as ``Decimal``."""
    ticks(text, precision)
    return Decimal(text)


def price(text: str, precision: int) -> Decimal:
    """A price > 0 checked like :func:`ticks`, as ``Decimal``."""
    if ticks(text, precision) <= 0:
        raise RejectedFrameError(f"price {text!r} is not > 0")
    return Decimal(text)


def amount(text: str) -> Decimal:
    """A plain ASCII decimal >= 0 with up to 30 decimals (volumes, fees), as ``Decimal``."""
    return decimal(text, 30)

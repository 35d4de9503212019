"""Value sanity at the edge: what a Kraken price or quantity must be before it is used.

Prices are > 0 and quantities >= 0, finite (no NaN, sNaN or Infinity, which msgspec's
``Decimal`` accepts from JSON strings), and exact at the pair's precision (trailing zeros
allowed: ``59999.950`` at 2 decimals is ``5999995`` ticks, ``59999.955`` is refused). A
failing value raises :class:`RejectedFrameError`; the provider rejects the whole frame
(``ctx.reject_frame``) and nothing of it reaches a consumer.
"""

from __future__ import annotations

from decimal import Decimal

from tradegw_core.errors import RejectedFrameError

__all__ = [
    "MAX_WHOLE_DIGITS",
    "PAD",
    "amount",
    "digits",
    "price",
    "quantity",
    "ticks",
]

PAD = tuple("0" * n for n in range(40))
"""``PAD[n]`` is ``n`` zeros (pads a decimal fraction to the precision)."""
MAX_WHOLE_DIGITS = 18
"""Values must stay below 10**18 (no venue price or size comes near it)."""


def ticks(value: Decimal, precision: int) -> int:
    """``value`` as an exact integer count of ``10**-precision``; RejectedFrameError otherwise.

    Exact whatever the ``decimal`` context (no rounding): refuses NaN, sNaN, infinities,
    more significant decimals than ``precision`` and magnitudes of 10**18 or more.
    """
    if not value.is_finite():
        raise RejectedFrameError(f"not a finite number: {value!r}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if len(digits) + exponent > MAX_WHOLE_DIGITS:
        raise RejectedFrameError(f"{value} is out of range")
    shift = exponent + precision
    if shift < 0:
        if any(digits[shift:]):
            raise RejectedFrameError(f"{value} has more than {precision} decimals")
        digits, shift = digits[:shift], 0
    count = int("".join(map(str, digits)) + "0" * shift or "0")
    return -count if sign else count


def digits(value: Decimal, precision: int) -> str:
    """The ticks of a value >= 0 as text without leading zeros (``""`` for zero).

    This is Kraken's checksum text of the value (``0.00000500`` at 8 -> ``500``). Fast path
    on ``str(value)``; exponents, excess trailing zeros and signs go through :func:`ticks`.
    RejectedFrameError for negative, non-finite or too precise values.
    """
    whole, _, frac = str(value).partition(".")
    n = len(frac)
    if (
        n <= precision
        and whole.isdigit()
        and len(whole) <= MAX_WHOLE_DIGITS
        and (not n or frac.isdigit())
    ):
        return (whole + frac + PAD[precision - n]).lstrip("0")
    count = ticks(value, precision)
    if count < 0:
        raise RejectedFrameError(f"{value} is negative")
    return str(count) if count else ""


def price(value: Decimal, precision: int) -> Decimal:
    """``value`` when it is a price (> 0, exact at ``precision``)."""
    if ticks(value, precision) <= 0:
        raise RejectedFrameError(f"price {value} is not > 0")
    return value


def quantity(value: Decimal, precision: int) -> Decimal:
    """``value`` when it is a quantity (>= 0, exact at ``precision``)."""
    if ticks(value, precision) < 0:
        raise RejectedFrameError(f"quantity {value} is negative")
    return value


def amount(value: Decimal) -> Decimal:
    """``value`` when it is a finite amount >= 0 at any precision (volumes, fees, costs)."""
    if not value.is_finite() or value < 0:
        raise RejectedFrameError(f"amount {value!r} is not a finite number >= 0")
    return value

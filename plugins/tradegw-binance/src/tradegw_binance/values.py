"""Venue number strings -> exact ticks and Decimals, validated once per distinct string.

Binance sends prices and quantities as decimal strings (``"0.35130000"``). A string is
accepted only when it is plain ASCII ``digits[.digits]`` (no sign, exponent, ``NaN``,
``Infinity``, spaces, underscores or non-ASCII digits such as full-width digits), at most
:data:`MAX_DIGITS` digits, with no non-zero digit beyond ``scale`` decimals; prices must
be > 0, quantities >= 0. Each accepted string maps to ``(ticks, Decimal)`` where ``ticks``
is the value in units of ``10**-scale`` (Binance renders 8 decimals: a value with a
non-zero ninth decimal is beyond its precision).

The same strings repeat frame after frame (the levels near the top of a book, round
quantities, ``"0.00000000"``), so :class:`ValueCache` keeps the result per string: a hit
is one dict lookup, and validation plus ``Decimal`` construction run once per distinct
string. Each cache is bounded (overflow policy: *clear when full*).
"""

from __future__ import annotations

import re
from decimal import Decimal

from tradegw_core.errors import SchemaError

__all__ = [
    "MAX_DIGITS",
    "SCALE",
    "BookValues",
    "FrameRejected",
    "ValueCache",
    "parse_ticks",
    "strict_decimal",
]

SCALE = 8
"""Decimals of Binance's spot wire numbers: every price and quantity is ``ticks * 1e-8``."""

MAX_DIGITS = 30
"""Digits (integer plus fraction part) a venue number may have."""

_RENDERED = re.compile(rf"[0-9]{{1,{MAX_DIGITS - SCALE}}}\.[0-9]{{{SCALE}}}").fullmatch
"""``digits.8digits`` in ASCII (``[0-9]``, unlike ``\\d``, matches no other digits)."""

Parsed = tuple[int, Decimal]


class FrameRejected(SchemaError):
    """A venue frame carried something unusable; ``reason`` is a short bounded token.

    Raised by parsers and assemblers before anything of the frame reaches a consumer; the
    provider catches it and reports it with ``ctx.reject_frame(reason, ...)``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_ticks(text: str, scale: int, *, positive: bool) -> int:
    """``text`` in units of ``10**-scale``; FrameRejected(``value``) when it is not sane."""
    # Fast path (one regex, one int): Binance renders every number with 8 decimals.
    if scale == SCALE and isinstance(text, str) and _RENDERED(text) is not None:
        ticks = int(text.replace(".", ""))
        if ticks or not positive:
            return ticks
    if not isinstance(text, str) or not text.isascii():
        raise FrameRejected("value", f"not an ASCII decimal: {text!r:.40}")
    whole, dot, frac = text.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()):
        raise FrameRejected("value", f"not a plain decimal: {text!r:.40}")
    if len(whole) + len(frac) > MAX_DIGITS:
        raise FrameRejected("value", f"too many digits: {text!r:.40}")
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise FrameRejected("value", f"more than {scale} decimals: {text!r:.40}")
        frac = frac[:scale]
    ticks = int(whole + frac.ljust(scale, "0"))
    if positive and not ticks:
        raise FrameRejected("value", f"must be > 0: {text!r:.40}")
    return ticks


def strict_decimal(text: str, *, positive: bool = False, scale: int = 8) -> Decimal:
    """``text`` as an exact Decimal after the checks of :func:`parse_ticks`."""
    parse_ticks(text, scale, positive=positive)
    return Decimal(text)


class ValueCache:
    """``str -> (ticks, Decimal)`` for one kind of value (prices or quantities) at ``scale``.

    ``get`` is the dict lookup (None on a miss); :meth:`parse` validates, converts and
    remembers. Use as ``cache.get(s) or cache.parse(s)``.
    """

    __slots__ = ("_entries", "get", "max_entries", "positive", "scale")

    def __init__(self, scale: int, *, positive: bool, max_entries: int = 8192) -> None:
        self.scale = scale
        self.positive = positive
        self.max_entries = max_entries
        self._entries: dict[str, Parsed] = {}
        self.get = self._entries.get

    def __len__(self) -> int:
        return len(self._entries)

    def ticks(self, text: str) -> int:
        """The ticks of ``text`` (validated), from the cache or parsed without storing it.

        For bulk input (REST snapshots, buffered diffs) that would flush the hot entries.
        """
        hit = self._entries.get(text)
        if hit is not None:
            return hit[0]
        return parse_ticks(text, self.scale, positive=self.positive)

    def parse(self, text: str) -> Parsed:
        """Validate ``text`` and remember its ticks and Decimal (FrameRejected if bad)."""
        ticks = parse_ticks(text, self.scale, positive=self.positive)
        entry = (ticks, Decimal(text))
        entries = self._entries
        if len(entries) >= self.max_entries:
            entries.clear()
        entries[text] = entry
        return entry


class BookValues:
    """The price and quantity caches one provider's books share (one decimal ``scale``)."""

    __slots__ = ("prices", "qtys", "scale")

    def __init__(self, scale: int = SCALE, *, max_entries: int = 8192) -> None:
        self.scale = scale
        self.prices = ValueCache(scale, positive=True, max_entries=max_entries)
        self.qtys = ValueCache(scale, positive=False, max_entries=max_entries)

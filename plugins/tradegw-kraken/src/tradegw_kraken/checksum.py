"""Kraken's book CRC32 (identical in WebSocket v1 and v2).

Over the top 10 asks (lowest first) then the top 10 bids (highest first): each price and
quantity written at the pair's precision, ``.`` removed, leading zeros stripped, all
concatenated; ``zlib.crc32`` of the ASCII text, unsigned. Values are exact ``Decimal``s:
a float round trip (``0.10000000`` -> ``0.1``) breaks every checksum.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import Decimal

from tradegw_core.schema.events import Level

__all__ = ["CHECKSUM_LEVELS", "book_checksum", "checksum_text", "digits"]

CHECKSUM_LEVELS = 10
"""The checksum always covers the best 10 levels per side, whatever the subscribed depth."""


def digits(value: Decimal, precision: int) -> str:
    """``value`` at ``precision`` decimals with the dot and leading zeros removed.

    ``45281.0`` at 1 -> ``452810``; ``0.10000000`` at 8 -> ``10000000``; ``0.566`` at 4 ->
    ``5660`` (Kraken's reference prints numbers without trailing zeros; the checksum
    still uses the full precision).
    """
    return f"{value:.{precision}f}".replace(".", "").lstrip("0")


def checksum_text(
    asks: Iterable[Level], bids: Iterable[Level], price_precision: int, qty_precision: int
) -> str:
    """The string the CRC32 runs over; ``asks`` ascending and ``bids`` descending, best first.

    Only the first 10 of each are used.
    """
    parts: list[str] = []
    for side in (asks, bids):
        for i, level in enumerate(side):
            if i == CHECKSUM_LEVELS:
                break
            parts.append(digits(level.price, price_precision))
            parts.append(digits(level.qty, qty_precision))
    return "".join(parts)


def book_checksum(
    asks: Iterable[Level], bids: Iterable[Level], price_precision: int, qty_precision: int
) -> int:
    """Unsigned CRC32 of :func:`checksum_text` (compare with the venue's ``checksum``)."""
    text = checksum_text(asks, bids, price_precision, qty_precision)
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF

"""Kraken's book side: exact integer ticks, kept sorted, each level's checksum text cached.

A level is keyed by its *rank*: the price in ticks of the pair's price precision (asks) or
its negation (bids), so both sides sort best first in one ascending list. Each level keeps
the venue's ``Decimal`` price and quantity (made once, by the decoder; the BookUpdate and
BookSnapshot reuse them) and its checksum text ``str(price_ticks) + str(qty_ticks)``, which
is exactly Kraken's digit rule (precision-formatted, dot removed, leading zeros stripped).
The CRC32 of a message is then a join of ten cached strings per side, and the join is
itself cached until a change touches the top ten.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from decimal import Decimal

from tradegw_core.errors import RejectedFrameError
from tradegw_core.schema.events import Level
from tradegw_kraken.schemas import KrakenLevelMsg
from tradegw_kraken.values import MAX_WHOLE_DIGITS, PAD, digits

__all__ = ["BookSide"]

_ZERO = Decimal(0)
_PRICE_CACHE = 4096
"""Bound of a price cache (overflow policy: clear)."""


def _checked_price(
    price: Decimal, precision: int, prices: dict[str, tuple[int, str]]
) -> tuple[int, str]:
    """Check a price (> 0, exact at ``precision``) and cache its ticks and checksum text."""
    text = digits(price, precision)
    if not text:
        raise RejectedFrameError(f"price {price} is not > 0")
    if len(prices) >= _PRICE_CACHE:
        prices.clear()
    entry = prices[str(price)] = (int(text), text)
    return entry


class BookSide:
    """One side of a Kraken book (module docstring); ``sign`` is 1 for asks, -1 for bids."""

    __slots__ = ("_levels", "_ranks", "_text", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self._ranks: list[int] = []
        """Ranks in ascending order: best level first."""
        self._levels: dict[int, tuple[Level, str]] = {}
        self._text: str | None = ""
        """Cached checksum text of the top ten levels (None: stale)."""

    def __len__(self) -> int:
        return len(self._ranks)

    def clear(self) -> None:
        """Forget every level."""
        self._ranks.clear()
        self._levels.clear()
        self._text = ""

    def apply(
        self,
        levels: Sequence[KrakenLevelMsg],
        prices: dict[str, tuple[int, str]],
        price_precision: int,
        qty_precision: int,
        out: list[Level] | None,
    ) -> None:
        """Set ``levels`` in array order (quantity 0 removes); ``out`` collects the changes.

        ``prices`` caches checked prices (text -> ticks and checksum text; bounded: cleared
        when full). RejectedFrameError on a bad value, with the side half-changed: the caller
        drops the book.
        """
        sign = self.sign
        ranks = self._ranks
        book = self._levels
        dirty = False
        for lv in levels:
            price = lv.price
            qty = lv.qty
            known = prices.get(str(price))
            if known is None:
                known = _checked_price(price, price_precision, prices)
            qs = str(qty)
            whole, _, frac = qs.partition(".")
            n = len(frac)
            if (
                n <= qty_precision
                and whole.isdigit()
                and len(whole) <= MAX_WHOLE_DIGITS
                and (not n or frac.isdigit())
            ):
                qtext = (whole + frac + PAD[qty_precision - n]).lstrip("0")
            else:
                qtext = digits(qty, qty_precision)
            rank = known[0] * sign
            if qtext:
                level = Level(price, qty)
                if rank not in book:
                    insort(ranks, rank)
                book[rank] = (level, known[1] + qtext)
                dirty = dirty or len(ranks) <= 10 or rank <= ranks[9]
            else:
                level = Level(price, _ZERO)
                if book.pop(rank, None) is not None:
                    index = bisect_left(ranks, rank)
                    del ranks[index]
                    dirty = dirty or index < 10
            if out is not None:
                out.append(level)
        if dirty:
            self._text = None

    def truncate(self, depth: int) -> list[Decimal]:
        """Drop the levels beyond ``depth``; return their prices (worst last)."""
        ranks = self._ranks
        if len(ranks) <= depth:
            return []
        levels = self._levels
        gone = [levels.pop(rank)[0].price for rank in ranks[depth:]]
        del ranks[depth:]
        return gone

    def best_rank(self) -> int | None:
        """The rank of the best level, or None when the side is empty."""
        return self._ranks[0] if self._ranks else None

    def checksum_text(self) -> str:
        """The concatenated checksum text of the best ten levels."""
        text = self._text
        if text is None:
            levels = self._levels
            text = self._text = "".join([levels[r][1] for r in self._ranks[:10]])
        return text

    def top(self, n: int | None = None) -> list[Level]:
        """The best ``n`` levels (all when None), best first."""
        levels = self._levels
        ranks = self._ranks if n is None else self._ranks[:n]
        return [levels[r][0] for r in ranks]

    def as_dict(self) -> dict[Decimal, Decimal]:
        """price -> quantity of every level."""
        return {lv.price: lv.qty for lv, _ in self._levels.values()}

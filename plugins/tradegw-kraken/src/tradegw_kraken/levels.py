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
from decimal import Decimal

from tradegw_core.schema.events import Level

__all__ = ["BookSide"]


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

    def set(self, rank: int, level: Level, text: str) -> None:
        """Set a level (``text``: its checksum text)."""
        ranks = self._ranks
        if rank not in self._levels:
            insort(ranks, rank)
        self._levels[rank] = (level, text)
        if self._text is not None and (len(ranks) <= 10 or rank <= ranks[9]):
            self._text = None

    def remove(self, rank: int) -> bool:
        """Remove a level; False when there was none at that rank."""
        if self._levels.pop(rank, None) is None:
            return False
        ranks = self._ranks
        index = bisect_left(ranks, rank)
        del ranks[index]
        if index < 10:
            self._text = None
        return True

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

"""The venue side of Kraken's book, sans-I/O: what Kraken sends for one pair at one depth.

:class:`VenueBook` is a pair's full book; :class:`DepthView` is one subscription's window
on it. A view sends a snapshot of its top ``depth`` levels, then updates holding every level
of the window that is new or changed, plus a delete (qty 0) for a level that left the
window because it was really removed. A level merely pushed below the depth gets **no**
delete, as on the real venue, so a client that forgets to truncate fails its checksums.
Every message carries the CRC32 of the top 10 levels at the pair's precision.
"""

from __future__ import annotations

import heapq
from decimal import Decimal

from tradegw_core.schema.events import Level
from tradegw_core.schema.symbols import Instrument
from tradegw_kraken.checksum import CHECKSUM_LEVELS, book_checksum

__all__ = ["BookSide", "DepthView", "VenueBook", "ViewMessage"]

_ZERO = Decimal(0)

BookSide = str
"""``"bids"`` or ``"asks"``."""


class VenueBook:
    """A pair's full book on the venue (Decimal at the pair's precision)."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def set(self, side: BookSide, price: Decimal, qty: Decimal) -> None:
        """Set (or with qty 0 remove) one level; values are quantized to the precision."""
        book = self.bids if side == "bids" else self.asks
        price = price.quantize(Decimal(1).scaleb(-self.instrument.price_precision))
        qty = qty.quantize(Decimal(1).scaleb(-self.instrument.qty_precision))
        if qty == _ZERO:
            book.pop(price, None)
        else:
            book[price] = qty

    def top(self, side: BookSide, n: int) -> list[Level]:
        """Best ``n`` levels of a side (bids descending, asks ascending)."""
        if side == "bids":
            prices = heapq.nlargest(n, self.bids)
            return [Level(p, self.bids[p]) for p in prices]
        prices = heapq.nsmallest(n, self.asks)
        return [Level(p, self.asks[p]) for p in prices]

    def checksum(self) -> int:
        """CRC32 of the top 10 levels, as the venue puts it on a message."""
        inst = self.instrument
        return book_checksum(
            self.top("asks", CHECKSUM_LEVELS),
            self.top("bids", CHECKSUM_LEVELS),
            inst.price_precision,
            inst.qty_precision,
        )


class ViewMessage:
    """One book message of a view: the levels to send and the checksum."""

    __slots__ = ("asks", "bids", "checksum")

    def __init__(self, bids: list[Level], asks: list[Level], checksum: int) -> None:
        self.bids = bids
        self.asks = asks
        self.checksum = checksum


class DepthView:
    """One subscription's window (``depth`` levels per side) on a :class:`VenueBook`."""

    def __init__(self, book: VenueBook, depth: int) -> None:
        self.book = book
        self.depth = depth
        self._sent: dict[BookSide, dict[Decimal, Decimal]] = {"bids": {}, "asks": {}}

    def snapshot(self) -> ViewMessage:
        """The window now; the next update is relative to it."""
        bids = self.book.top("bids", self.depth)
        asks = self.book.top("asks", self.depth)
        self._sent = {
            "bids": {lv.price: lv.qty for lv in bids},
            "asks": {lv.price: lv.qty for lv in asks},
        }
        return ViewMessage(bids, asks, self.book.checksum())

    def update(self) -> ViewMessage | None:
        """What changed in the window since the last message, or None when nothing did."""
        bids = self._diff("bids")
        asks = self._diff("asks")
        if not bids and not asks:
            return None
        return ViewMessage(bids, asks, self.book.checksum())

    def _diff(self, side: BookSide) -> list[Level]:
        full = self.book.bids if side == "bids" else self.book.asks
        now = {lv.price: lv.qty for lv in self.book.top(side, self.depth)}
        before = self._sent[side]
        out = [Level(p, _ZERO) for p in before if p not in now and p not in full]
        out += [Level(p, q) for p, q in now.items() if before.get(p) != q]
        self._sent[side] = now
        return out

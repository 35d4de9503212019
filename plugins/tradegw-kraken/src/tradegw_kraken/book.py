"""The sans-I/O Kraken book assembler: exact depth, CRC32 verified on every message.

Kraken's ``book`` has no sequence numbers; the checksum is the only loss detector, so it
is checked after every snapshot and every update. The venue sends no delete for a level
pushed below the subscribed depth: the assembler truncates after every message (and
reports the dropped levels as removals in its BookUpdate, so a consumer applying the
updates holds exactly the same book).

Diffs that arrive while unsynced are dropped, not buffered: on Kraken the snapshot starts
a fresh subscription and every update before it belongs to the old one (the contract's
bounded buffer is, for this venue, of size zero).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from decimal import Decimal

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.errors import ConfigError
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Level, make_event_id
from tradegw_core.schema.symbols import Instrument
from tradegw_kraken.checksum import CHECKSUM_LEVELS, book_checksum
from tradegw_kraken.config import BOOK_DEPTHS
from tradegw_kraken.parsing import parse_ts_ns
from tradegw_kraken.schemas import KrakenBookMsg, KrakenLevelMsg

__all__ = ["KrakenBookAssembler"]

_ZERO = Decimal(0)


class KrakenBookAssembler:
    """Book state machine for one Kraken pair (implements ``BookAssembler``).

    ``instrument`` gives the precisions the checksum text is rendered at; ``depth`` is the
    subscribed depth (10, 25, 100, 500 or 1000). ``require_checksum=False`` accepts
    messages without a checksum (WebSocket v1 snapshots); v2 always carries one, so a v2
    message without it is treated as a failed check.
    """

    def __init__(
        self, instrument: Instrument, depth: int = 10, *, require_checksum: bool = True
    ) -> None:
        if depth not in BOOK_DEPTHS:
            raise ConfigError(
                f"providers.kraken.book_depth={depth!r}: Kraken only accepts {BOOK_DEPTHS}"
            )
        self._inst = instrument
        self._depth = depth
        self._require_checksum = require_checksum
        self._book = OrderBook(max_depth=depth)
        self._synced = False
        self.dropped_unsynced = 0
        """Diffs ignored because no snapshot had been applied yet."""
        self.checksum_failures = 0
        """How many messages failed the checksum (each one caused a ResyncNeeded)."""
        self.last_checksum: int | None = None
        """The venue checksum of the last message that verified."""
        self._generation = 0

    @property
    def synced(self) -> bool:
        """True when the last message verified."""
        return self._synced

    @property
    def book(self) -> OrderBook:
        """The local book (read-only use)."""
        return self._book

    @property
    def depth(self) -> int:
        """The subscribed depth this assembler keeps."""
        return self._depth

    def reset(self) -> None:
        """Drop the book; updates are ignored until the next snapshot."""
        self._book.clear()
        self._synced = False

    def local_checksum(self) -> int:
        """CRC32 of the current top 10 levels per side, as the venue computes it."""
        return book_checksum(
            self._book.top_asks(CHECKSUM_LEVELS),
            self._book.top_bids(CHECKSUM_LEVELS),
            self._inst.price_precision,
            self._inst.qty_precision,
        )

    def apply_snapshot(self, msg: KrakenBookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Replace the book with ``msg`` and verify its checksum."""
        book = self._book
        book.clear()
        for lv in msg.bids:
            book.set_bid(lv.price, lv.qty)
        for lv in msg.asks:
            book.set_ask(lv.price, lv.qty)
        self._truncate()
        failure = self._verify(msg)
        if failure is not None:
            return [failure]
        self._synced = True
        self._generation += 1
        return [
            BookSnapshot(
                event_id=self._event_id(EventType.BOOK_SNAPSHOT, msg),
                provider=self._inst.provider,
                symbol=self._inst.symbol,
                venue_symbol=msg.symbol,
                ts_exchange=parse_ts_ns(msg.timestamp) if msg.timestamp else None,
                ts_ingest=ts_ingest,
                bids=tuple(book.top_bids()),
                asks=tuple(book.top_asks()),
                checksum=msg.checksum,
            )
        ]

    def apply_diff(self, msg: KrakenBookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one update in array order, truncate, verify; ignored while unsynced."""
        if not self._synced:
            self.dropped_unsynced += 1
            return []
        book = self._book
        bids = _apply(book.bids, msg.bids)
        asks = _apply(book.asks, msg.asks)
        gone_bids, gone_asks = self._truncate()
        failure = self._verify(msg)
        if failure is not None:
            return [failure]
        bids.extend(Level(p, _ZERO) for p in gone_bids)
        asks.extend(Level(p, _ZERO) for p in gone_asks)
        if not bids and not asks:
            return []
        return [
            BookUpdate(
                event_id=self._event_id(EventType.BOOK_UPDATE, msg),
                provider=self._inst.provider,
                symbol=self._inst.symbol,
                venue_symbol=msg.symbol,
                ts_exchange=parse_ts_ns(msg.timestamp) if msg.timestamp else None,
                ts_ingest=ts_ingest,
                bids=tuple(bids),
                asks=tuple(asks),
                checksum=msg.checksum,
            )
        ]

    def reconcile(self, msg: KrakenBookMsg) -> int:
        """Levels (within the subscribed depth) where ``msg`` and the local book differ."""
        other = OrderBook(max_depth=self._depth)
        for lv in msg.bids:
            other.set_bid(lv.price, lv.qty)
        for lv in msg.asks:
            other.set_ask(lv.price, lv.qty)
        other.truncate()
        return self._book.diff_levels(other, self._depth)

    def _truncate(self) -> tuple[list[Decimal], list[Decimal]]:
        """Drop levels beyond the depth; return the dropped bid and ask prices."""
        depth = self._depth
        bids, asks = self._book.bids, self._book.asks
        gone_bids: list[Decimal] = []
        gone_asks: list[Decimal] = []
        if len(bids) > depth:
            gone_bids = heapq.nsmallest(len(bids) - depth, bids)
            for p in gone_bids:
                del bids[p]
        if len(asks) > depth:
            gone_asks = heapq.nlargest(len(asks) - depth, asks)
            for p in gone_asks:
                del asks[p]
        return gone_bids, gone_asks

    def _verify(self, msg: KrakenBookMsg) -> ResyncNeeded | None:
        expected = msg.checksum
        if expected is None:
            if not self._require_checksum:
                return None
            return self._fail("book message carried no checksum")
        local = self.local_checksum()
        if local != expected:
            return self._fail(f"local CRC32 {local} != venue checksum {expected}")
        self.last_checksum = expected
        return None

    def _fail(self, detail: str) -> ResyncNeeded:
        self.checksum_failures += 1
        self.reset()
        return ResyncNeeded(symbol=self._inst.symbol, reason=ResyncReason.CHECKSUM, detail=detail)

    def _event_id(self, type_: EventType, msg: KrakenBookMsg) -> str:
        # No sequence on Kraken: the venue's timestamp plus checksum identify a message, so
        # copies from two connections collide. Snapshots also carry the assembler's sync
        # generation: a resync snapshot equal to an earlier one must not be deduplicated.
        key = f"{msg.timestamp}:{msg.checksum}"
        if type_ is EventType.BOOK_SNAPSHOT:
            key = f"g{self._generation}:{key}"
        return make_event_id(self._inst.provider, self._inst.symbol, type_, key)


def _apply(side: dict[Decimal, Decimal], levels: list[KrakenLevelMsg]) -> list[Level]:
    changed: list[Level] = []
    for lv in levels:
        if lv.qty == _ZERO:
            side.pop(lv.price, None)
        else:
            side[lv.price] = lv.qty
        changed.append(Level(lv.price, lv.qty))
    return changed

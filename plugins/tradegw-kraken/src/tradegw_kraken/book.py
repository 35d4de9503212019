"""The sans-I/O Kraken book assembler: exact depth, CRC32 verified on every message.

Kraken's ``book`` has no sequence numbers; the checksum is the only loss detector, so it
is checked after every snapshot and every update. The venue sends no delete for a level
pushed below the subscribed depth: the assembler truncates after every message (and
reports the dropped levels as removals in its BookUpdate, so a consumer applying the
updates holds exactly the same book).

Levels live in :class:`~tradegw_kraken.levels.BookSide`: exact integer ticks, sorted,
each with its checksum text cached when set, so a message costs its changed levels plus a
join of twenty cached strings (design section 13).

Values are checked at the edge: every price must be > 0 and every quantity >= 0, finite
and exact at the pair's precision, and the book must not end up crossed. A message that
fails raises :class:`~tradegw_kraken.levels.RejectedFrameError` after resetting the assembler
(the provider rejects the frame, which resyncs the book); nothing of it is emitted.

Diffs that arrive while unsynced are dropped, not buffered: on Kraken the snapshot starts
a fresh subscription and every update before it belongs to the old one (the contract's
bounded buffer is, for this venue, of size zero).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.errors import ConfigError, RejectedFrameError, SchemaError
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Level, make_event_id
from tradegw_core.schema.symbols import Instrument
from tradegw_kraken.config import BOOK_DEPTHS
from tradegw_kraken.levels import BookSide
from tradegw_kraken.parsing import parse_ts_ns
from tradegw_kraken.schemas import KrakenBookMsg, KrakenLevelMsg

__all__ = ["KrakenBookAssembler"]

_ZERO = Decimal(0)


class KrakenBookAssembler:
    """Book state machine for one Kraken pair (implements ``BookAssembler``).

    ``instrument`` gives the precisions the checksum text is rendered at (and values are
    checked against); ``depth`` is the subscribed depth (10, 25, 100, 500 or 1000).
    ``require_checksum=False`` accepts messages without a checksum (WebSocket v1
    snapshots); v2 always carries one, so a v2 message without it is a failed check.
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
        self._bids = BookSide(-1)
        self._asks = BookSide(1)
        self._prices: dict[str, tuple[int, str]] = {}
        """Text of a checked price -> (ticks, checksum text), bounded (see BookSide)."""
        self._last_ts: list[Any] = ["", 0]
        """The last venue timestamp's date and time to the second (parse_ts_ns cache)."""
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
        """A copy of the local book as an :class:`OrderBook` (read-only use)."""
        book = OrderBook(max_depth=self._depth)
        book.bids = self._bids.as_dict()
        book.asks = self._asks.as_dict()
        return book

    @property
    def depth(self) -> int:
        """The subscribed depth this assembler keeps."""
        return self._depth

    def top_bids(self, n: int | None = None) -> list[Level]:
        """The best ``n`` bids (all when None), highest first."""
        return self._bids.top(n)

    def top_asks(self, n: int | None = None) -> list[Level]:
        """The best ``n`` asks (all when None), lowest first."""
        return self._asks.top(n)

    def reset(self) -> None:
        """Drop the book; updates are ignored until the next snapshot."""
        self._bids.clear()
        self._asks.clear()
        self._synced = False

    def local_checksum(self) -> int:
        """CRC32 of the current top 10 levels per side, as the venue computes it."""
        text = self._asks.checksum_text() + self._bids.checksum_text()
        return zlib.crc32(text.encode("ascii"))

    def apply_snapshot(self, msg: KrakenBookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Replace the book with ``msg`` and verify its checksum."""
        ts_exchange = self._ts(msg)
        self.reset()
        self._apply(self._bids, msg.bids, None)
        self._apply(self._asks, msg.asks, None)
        self._bids.truncate(self._depth)
        self._asks.truncate(self._depth)
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
                ts_exchange=ts_exchange,
                ts_ingest=ts_ingest,
                bids=tuple(self._bids.top()),
                asks=tuple(self._asks.top()),
                checksum=msg.checksum,
            )
        ]

    def apply_diff(self, msg: KrakenBookMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one update in array order, truncate, verify; ignored while unsynced."""
        if not self._synced:
            self.dropped_unsynced += 1
            return []
        ts_exchange = self._ts(msg)
        bids: list[Level] = []
        asks: list[Level] = []
        self._apply(self._bids, msg.bids, bids)
        self._apply(self._asks, msg.asks, asks)
        for price in self._bids.truncate(self._depth):
            bids.append(Level(price, _ZERO))
        for price in self._asks.truncate(self._depth):
            asks.append(Level(price, _ZERO))
        failure = self._verify(msg)
        if failure is not None:
            return [failure]
        if not bids and not asks:
            return []
        return [
            BookUpdate(
                event_id=self._event_id(EventType.BOOK_UPDATE, msg),
                provider=self._inst.provider,
                symbol=self._inst.symbol,
                venue_symbol=msg.symbol,
                ts_exchange=ts_exchange,
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
        return self.book.diff_levels(other, self._depth)

    def _apply(self, side: BookSide, levels: list[KrakenLevelMsg], out: list[Level] | None) -> None:
        """Set the levels of one side in array order; a bad value drops the whole book."""
        inst = self._inst
        try:
            side.apply(levels, self._prices, inst.price_precision, inst.qty_precision, out)
        except RejectedFrameError:
            self.reset()
            raise

    def _verify(self, msg: KrakenBookMsg) -> ResyncNeeded | None:
        best_bid, best_ask = self._bids.best_rank(), self._asks.best_rank()
        if best_bid is not None and best_ask is not None and -best_bid >= best_ask:
            self.reset()
            raise RejectedFrameError("crossed book: best bid >= best ask", reason="crossed")
        expected = msg.checksum
        if expected is None:
            if self._require_checksum:
                return self._fail("book message carried no checksum")
        else:
            local = self.local_checksum()
            if local != expected:
                return self._fail(f"local CRC32 {local} != venue checksum {expected}")
            self.last_checksum = expected
        return None

    def _fail(self, detail: str) -> ResyncNeeded:
        self.checksum_failures += 1
        self.reset()
        return ResyncNeeded(symbol=self._inst.symbol, reason=ResyncReason.CHECKSUM, detail=detail)

    def _ts(self, msg: KrakenBookMsg) -> int | None:
        """The venue timestamp, read before the book changes (SchemaError resets it)."""
        if not msg.timestamp:
            return None
        try:
            return parse_ts_ns(msg.timestamp, self._last_ts)
        except SchemaError:
            self.reset()
            raise

    def _event_id(self, type_: EventType, msg: KrakenBookMsg) -> str:
        # No sequence on Kraken: the venue's timestamp plus checksum identify a message, so
        # copies from two connections collide. Snapshots also carry the assembler's sync
        # generation: a resync snapshot equal to an earlier one must not be deduplicated.
        key = f"{msg.timestamp}:{msg.checksum}"
        if type_ is EventType.BOOK_SNAPSHOT:
            key = f"g{self._generation}:{key}"
        return make_event_id(self._inst.provider, self._inst.symbol, type_, key)

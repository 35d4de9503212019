"""Sans-I/O local order book for one Binance symbol (binance.md section 2).

Binance has no book checksum: integrity is update-id continuity between a REST snapshot's
``lastUpdateId`` and the diff stream's ``U``/``u``. The rules, as this assembler applies them:

1. Unsynced: buffer diffs (bounded; overflow policy *drop oldest*: the next snapshot's
   first-event rule then decides whether what is left still aligns).
2. Snapshot with ``lastUpdateId`` = L. If the first buffered diff has ``U > L + 1`` the
   snapshot is older than the stream start (the *stale-snapshot* case): ResyncNeeded, keep
   the buffer, fetch again.
3. Drop buffered diffs with ``u <= L``. The first remaining one must satisfy
   ``U <= L + 1 <= u`` (the docs' literal "L within [U;u]" rejects every real alignment,
   where ``U == L + 1``).
4. Then for each diff: ``u <= book_id`` -> ignore (stale, duplicate); ``U > book_id + 1``
   -> gap -> ResyncNeeded; else set each level to its absolute quantity (zero deletes) and
   ``book_id = u``.

Outputs are canonical ``BookSnapshot`` / ``BookUpdate`` events. ``prev_seq`` of an update
is the ``last_seq`` of the previous *emitted* event, so a consumer can check continuity.
A bounded history of applied diffs lets :meth:`reconcile` roll a fresh snapshot forward
to the local book's update id and count real divergences, not timing noise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal

from tradegw_binance.parsing import levels
from tradegw_binance.schemas import BinanceDepthDiffMsg, BinanceDepthSnapshotMsg, PriceLevel
from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, make_event_id
from tradegw_core.schema.symbols import Symbol

__all__ = ["BinanceBookAssembler"]

_MS_NS = 1_000_000


class BinanceBookAssembler:
    """The Binance ``BookAssembler`` for one symbol.

    ``max_buffer`` bounds the diffs held while unsynced; ``history`` bounds the applied diffs
    kept for :meth:`reconcile`.
    """

    def __init__(
        self,
        symbol: Symbol,
        venue_symbol: str,
        *,
        provider_id: str = "binance",
        max_buffer: int = 2000,
        history: int = 2000,
    ) -> None:
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self.provider_id = provider_id
        self._book = OrderBook()
        self._buffer: deque[BinanceDepthDiffMsg] = deque(maxlen=max_buffer)
        self._history: deque[BinanceDepthDiffMsg] = deque(maxlen=history)
        self._synced = False
        self._book_id = 0
        self._last_emitted = 0
        self.buffer_dropped = 0
        """Diffs dropped by the buffer's drop-oldest policy since creation."""
        self.diffs_applied = 0
        """Diffs applied to the book since creation (buffered and live)."""

    # -- state -------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        """True when the book is consistent with the venue."""
        return self._synced

    @property
    def book(self) -> OrderBook:
        """The local book (read-only use)."""
        return self._book

    @property
    def last_update_id(self) -> int | None:
        """The venue update id the book reflects (None while unsynced)."""
        return self._book_id if self._synced else None

    @property
    def buffered(self) -> int:
        """Diffs waiting for a snapshot."""
        return len(self._buffer)

    def reset(self) -> None:
        """Drop the book and buffer diffs until the next snapshot."""
        self._synced = False
        self._book.clear()
        self._history.clear()
        self._book_id = 0

    # -- input ---------------------------------------------------------------------------
    def apply_snapshot(self, msg: BinanceDepthSnapshotMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Load a REST snapshot and replay the buffered diffs after it (steps 2-4)."""
        last_id = msg.lastUpdateId
        buf = self._buffer
        if buf and last_id + 1 < buf[0].U:
            self.reset()
            return [
                self._resync(
                    f"stale snapshot: lastUpdateId {last_id} is older than the first buffered "
                    f"diff U={buf[0].U}; fetch the snapshot again"
                )
            ]
        while buf and buf[0].u <= last_id:
            buf.popleft()
        self._book.clear()
        self._history.clear()
        self._load(msg.bids, msg.asks)
        self._book_id = last_id
        while buf:
            diff = buf[0]
            if self._book_id + 1 < diff.U:
                self.reset()
                return [
                    self._resync(
                        f"gap in buffered diffs: expected U <= {self._book_id + 1}, "
                        f"got U={diff.U} (u={diff.u})"
                    )
                ]
            buf.popleft()
            if diff.u > self._book_id:
                self._apply(diff)
        self._synced = True
        self._last_emitted = self._book_id
        return [self._snapshot_event(ts_ingest)]

    def apply_diff(self, msg: BinanceDepthDiffMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one diff when synced, else buffer it (step 4)."""
        if not self._synced:
            if len(self._buffer) == self._buffer.maxlen:
                self.buffer_dropped += 1
            self._buffer.append(msg)
            return ()
        if msg.u <= self._book_id:
            return ()
        if self._book_id + 1 < msg.U:
            expected = self._book_id + 1
            self.reset()
            self._buffer.clear()
            self._buffer.append(msg)
            return [self._resync(f"gap: expected U <= {expected}, got U={msg.U} (u={msg.u})")]
        self._apply(msg)
        if not msg.b and not msg.a:
            return ()
        prev = self._last_emitted
        self._last_emitted = msg.u
        return [
            BookUpdate(
                event_id=make_event_id(self.provider_id, self.symbol, EventType.BOOK_UPDATE, msg.u),
                provider=self.provider_id,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=msg.u,
                ts_exchange=msg.E * _MS_NS,
                ts_ingest=ts_ingest,
                bids=levels(msg.b),
                asks=levels(msg.a),
                first_seq=msg.U,
                last_seq=msg.u,
                prev_seq=prev,
            )
        ]

    # -- reconciliation ------------------------------------------------------------------
    def can_reconcile(self, msg: BinanceDepthSnapshotMsg) -> bool:
        """True when ``msg`` can be rolled forward to the local book's update id exactly.

        False while unsynced, when the snapshot is newer than the local book (wait for the
        stream to catch up) or older than the kept history.
        """
        if not self._synced or msg.lastUpdateId > self._book_id:
            return False
        if msg.lastUpdateId == self._book_id:
            return True
        return any(d.U <= msg.lastUpdateId + 1 <= d.u for d in self._history)

    def reconcile(self, msg: BinanceDepthSnapshotMsg) -> int:
        """Count price levels where the local book and a fresh snapshot disagree.

        The snapshot is first rolled forward through the kept diffs to the local update id
        (when :meth:`can_reconcile`), then compared only over the price range it covers
        (levels beyond the snapshot depth are unknown to it). A level counts once whether it
        is missing on one side or has a different quantity. Does not change the book.
        """
        fresh = OrderBook()
        for price, qty in msg.bids:
            fresh.set_bid(Decimal(price), Decimal(qty))
        for price, qty in msg.asks:
            fresh.set_ask(Decimal(price), Decimal(qty))
        if self._synced and msg.lastUpdateId < self._book_id:
            for diff in self._history:
                if diff.u > msg.lastUpdateId:
                    _apply_levels(fresh, diff.b, diff.a)
        # The price range the snapshot covered, from its own (un-rolled) levels.
        bid_floor = min((Decimal(p) for p, _ in msg.bids), default=None)
        ask_ceiling = max((Decimal(p) for p, _ in msg.asks), default=None)
        count = _count_diff(
            self._book.bids, fresh.bids, lambda p: bid_floor is None or p >= bid_floor
        )
        count += _count_diff(
            self._book.asks, fresh.asks, lambda p: ask_ceiling is None or p <= ask_ceiling
        )
        return count

    # -- internals -----------------------------------------------------------------------
    def _load(self, bids: Sequence[PriceLevel], asks: Sequence[PriceLevel]) -> None:
        _apply_levels(self._book, bids, asks)

    def _apply(self, diff: BinanceDepthDiffMsg) -> None:
        _apply_levels(self._book, diff.b, diff.a)
        self._book_id = diff.u
        self._history.append(diff)
        self.diffs_applied += 1

    def _resync(self, detail: str) -> ResyncNeeded:
        return ResyncNeeded(symbol=self.symbol, reason=ResyncReason.GAP, detail=detail)

    def _snapshot_event(self, ts_ingest: int) -> BookSnapshot:
        return BookSnapshot(
            event_id=make_event_id(
                self.provider_id, self.symbol, EventType.BOOK_SNAPSHOT, self._book_id
            ),
            provider=self.provider_id,
            symbol=self.symbol,
            venue_symbol=self.venue_symbol,
            seq_provider=self._book_id,
            ts_ingest=ts_ingest,
            bids=tuple(self._book.top_bids()),
            asks=tuple(self._book.top_asks()),
        )


def _apply_levels(book: OrderBook, bids: Sequence[PriceLevel], asks: Sequence[PriceLevel]) -> None:
    for price, qty in bids:
        book.set_bid(Decimal(price), Decimal(qty))
    for price, qty in asks:
        book.set_ask(Decimal(price), Decimal(qty))


def _count_diff(
    mine: dict[Decimal, Decimal],
    theirs: dict[Decimal, Decimal],
    in_range: Callable[[Decimal], bool],
) -> int:
    prices = {p for p in mine if in_range(p)} | {p for p in theirs if in_range(p)}
    return sum(1 for p in prices if mine.get(p) != theirs.get(p))

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

The book is a :class:`~tradegw_core.book.ticks.TickBook` keyed by exact integer ticks
(``1e-8``); every price and quantity is validated once per distinct string by the shared
:class:`~tradegw_binance.values.BookValues` caches (ASCII digits, price > 0, quantity >= 0,
within the instrument's precision) and its ``Decimal`` is made there, once. A diff, a
buffered diff or a snapshot with a bad value, or one that would leave the book crossed,
raises :class:`~tradegw_binance.values.FrameRejected` (reason ``value`` / ``crossed``) and
leaves the assembler reset: nothing of it reaches a consumer and the caller resyncs.

Outputs are canonical ``BookSnapshot`` / ``BookUpdate`` events. ``prev_seq`` of an update
is the ``last_seq`` of the previous *emitted* event, so a consumer can check continuity.
While :meth:`BinanceBookAssembler.record_history` is on (around a reconcile's snapshot
fetch, not otherwise) applied diffs are kept, so :meth:`reconcile` can roll a fresh
snapshot forward to the local book's update id and count real divergences.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from tradegw_binance.schemas import BinanceDepthDiffMsg, BinanceDepthSnapshotMsg, PriceLevel
from tradegw_binance.values import BookValues, FrameRejected
from tradegw_core.book.ticks import NO_ASK, NO_BID, TickBook
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Level, make_event_id
from tradegw_core.schema.symbols import Symbol

__all__ = ["BinanceBookAssembler"]

_MS_NS = 1_000_000

TickLevels = list[tuple[int, int]]
TickDiff = tuple[int, int, TickLevels, TickLevels]
"""A validated diff: ``(U, u, bids, asks)`` in ticks."""


class BinanceBookAssembler:
    """The Binance ``BookAssembler`` for one symbol.

    ``values`` are the provider's shared caches (a private set when None): they enforce
    the precision the venue renders (8 decimals), not the instrument's current steps, since
    real books carry levels off today's steps (NKNUSDT's book in the 2021 capture has a
    bid at 0.25974 with a 0.0001 tick, and quantities finer than the lot step are what
    fills of quote-sized orders leave behind). ``max_buffer``
    bounds the diffs held while unsynced; ``history`` bounds the diffs kept while
    recording for :meth:`reconcile`.
    """

    def __init__(
        self,
        symbol: Symbol,
        venue_symbol: str,
        *,
        provider_id: str = "binance",
        values: BookValues | None = None,
        max_buffer: int = 2000,
        history: int = 2000,
    ) -> None:
        self.symbol = symbol
        self.venue_symbol = venue_symbol
        self.provider_id = provider_id
        self._values = values = values if values is not None else BookValues()
        self._book = TickBook(values.scale)
        self._pget, self._pparse = values.prices.get, values.prices.parse
        self._qget, self._qparse = values.qtys.get, values.qtys.parse
        self._id_prefix = make_event_id(provider_id, symbol, EventType.BOOK_UPDATE, "")
        """``make_event_id(..., update_id)`` is this prefix plus the id (built once)."""
        self._buffer: deque[TickDiff] = deque(maxlen=max_buffer)
        self._history: deque[TickDiff] = deque(maxlen=history)
        self._recording = False
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
    def book(self) -> TickBook:
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

    def record_history(self, on: bool) -> None:
        """Keep applied diffs from now on (``True``) or stop and forget them."""
        self._recording = on
        self._history.clear()

    # -- input ---------------------------------------------------------------------------
    def apply_snapshot(self, msg: BinanceDepthSnapshotMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Load a REST snapshot and replay the buffered diffs after it (steps 2-4)."""
        last_id = msg.lastUpdateId
        buf = self._buffer
        if buf and last_id + 1 < buf[0][0]:
            self.reset()
            return [
                self._resync(
                    f"stale snapshot: lastUpdateId {last_id} is older than the first buffered "
                    f"diff U={buf[0][0]}; fetch the snapshot again"
                )
            ]
        try:
            bids, asks = self._ticks(msg.bids), self._ticks(msg.asks)
        except FrameRejected:
            self.reset()
            raise
        while buf and buf[0][1] <= last_id:
            buf.popleft()
        book = self._book
        book.clear()
        self._history.clear()
        _apply(book, bids, asks)
        self._book_id = last_id
        while buf:
            first, last, b, a = buf[0]
            if self._book_id + 1 < first:
                self.reset()
                return [
                    self._resync(
                        f"gap in buffered diffs: expected U <= {self._book_id + 1}, "
                        f"got U={first} (u={last})"
                    )
                ]
            buf.popleft()
            if last > self._book_id:
                _apply(book, b, a)
                self._book_id = last
                self.diffs_applied += 1
        if book.crossed():
            self.reset()
            raise FrameRejected("crossed", f"{self.venue_symbol}: the snapshot is crossed")
        self._synced = True
        self._last_emitted = self._book_id
        return [self._snapshot_event(ts_ingest)]

    def apply_diff(self, msg: BinanceDepthDiffMsg, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one diff when synced, else validate and buffer it (step 4).

        FrameRejected (the assembler then is reset) for a bad value or a crossed result.
        """
        if not self._synced:
            diff = (msg.U, msg.u, self._ticks(msg.b), self._ticks(msg.a))
            if len(self._buffer) == self._buffer.maxlen:
                self.buffer_dropped += 1
            self._buffer.append(diff)
            return ()
        last = msg.u
        if last <= self._book_id:
            return ()
        if self._book_id + 1 < msg.U:
            expected = self._book_id + 1
            self.reset()
            self._buffer.clear()
            self._buffer.append((msg.U, last, self._ticks(msg.b), self._ticks(msg.a)))
            return [self._resync(f"gap: expected U <= {expected}, got U={msg.U} (u={last})")]
        # The hot path, inlined: each value is one cache lookup on a hit; the book, its
        # crossing bounds and the event's Levels are filled in the same loop.
        pget, pparse, qget, qparse = self._pget, self._pparse, self._qget, self._qparse
        book = self._book
        try:
            side = book.bids
            hi = NO_BID
            bids = []
            for price, qty in msg.b:
                pt, pd = pget(price) or pparse(price)
                qt, qd = qget(qty) or qparse(qty)
                if qt:
                    side[pt] = qt
                    if pt > hi:
                        hi = pt
                else:
                    side.pop(pt, None)
                bids.append(Level(pd, qd))
            side = book.asks
            lo = NO_ASK
            asks = []
            for price, qty in msg.a:
                pt, pd = pget(price) or pparse(price)
                qt, qd = qget(qty) or qparse(qty)
                if qt:
                    side[pt] = qt
                    if pt < lo:
                        lo = pt
                else:
                    side.pop(pt, None)
                asks.append(Level(pd, qd))
            if hi > book.bid_ceiling:
                book.bid_ceiling = hi
            if lo < book.ask_floor:
                book.ask_floor = lo
            # Only a level set at or beyond the other side's bound can cross (NO_BID is below
            # and NO_ASK above every price): the common case costs two comparisons.
            if hi >= book.ask_floor and (
                book.ask_at_or_below(hi) if hi in book.bids else book.crossed()
            ):
                raise FrameRejected("crossed", f"{self.venue_symbol}: a bid at or above an ask")
            if lo <= book.bid_ceiling and (
                book.bid_at_or_above(lo) if lo in side else book.crossed()
            ):
                raise FrameRejected("crossed", f"{self.venue_symbol}: an ask at or below a bid")
        except FrameRejected:
            self.reset()
            raise
        self._book_id = last
        self.diffs_applied += 1
        if self._recording:
            self._history.append((msg.U, last, self._ticks(msg.b), self._ticks(msg.a)))
        if not bids and not asks:
            return ()
        prev = self._last_emitted
        self._last_emitted = last
        return (
            BookUpdate(
                event_id=f"{self._id_prefix}{last}",
                provider=self.provider_id,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=last,
                ts_exchange=msg.E * _MS_NS,
                ts_ingest=ts_ingest,
                bids=tuple(bids),
                asks=tuple(asks),
                first_seq=msg.U,
                last_seq=last,
                prev_seq=prev,
            ),
        )

    # -- reconciliation ------------------------------------------------------------------
    def can_reconcile(self, msg: BinanceDepthSnapshotMsg) -> bool:
        """True when ``msg`` can be rolled forward to the local book's update id exactly.

        False while unsynced, when the snapshot is newer than the local book (wait for the
        stream to catch up) or older than the history recorded since :meth:`record_history`.
        """
        if not self._synced or msg.lastUpdateId > self._book_id:
            return False
        if msg.lastUpdateId == self._book_id:
            return True
        return any(d[0] <= msg.lastUpdateId + 1 <= d[1] for d in self._history)

    def reconcile(self, msg: BinanceDepthSnapshotMsg) -> int:
        """Count price levels where the local book and a fresh snapshot disagree.

        The snapshot is first rolled forward through the recorded diffs to the local update
        id (when :meth:`can_reconcile`), then compared only over the price range it covers
        (levels beyond the snapshot depth are unknown to it). A level counts once whether it
        is missing on one side or has a different quantity. Does not change the book;
        FrameRejected when the snapshot carries a bad value.
        """
        snap_bids, snap_asks = self._ticks(msg.bids), self._ticks(msg.asks)
        fresh = TickBook(self._book.scale)
        _apply(fresh, snap_bids, snap_asks)
        if self._synced and msg.lastUpdateId < self._book_id:
            for _, last, b, a in self._history:
                if last > msg.lastUpdateId:
                    _apply(fresh, b, a)
        # The price range the snapshot covered, from its own (un-rolled) levels.
        bid_floor = min((p for p, _ in snap_bids), default=None)
        ask_ceiling = max((p for p, _ in snap_asks), default=None)
        count = _count_diff(
            self._book.bids, fresh.bids, lambda p: bid_floor is None or p >= bid_floor
        )
        count += _count_diff(
            self._book.asks, fresh.asks, lambda p: ask_ceiling is None or p <= ask_ceiling
        )
        return count

    # -- internals -----------------------------------------------------------------------
    def _ticks(self, pairs: Sequence[PriceLevel]) -> TickLevels:
        """Validated ``(price, qty)`` ticks of venue levels (FrameRejected if one is bad)."""
        price, qty = self._values.prices.ticks, self._values.qtys.ticks
        return [(price(p), qty(q)) for p, q in pairs]

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


def _apply(book: TickBook, bids: TickLevels, asks: TickLevels) -> None:
    for price, qty in bids:
        book.set_bid(price, qty)
    for price, qty in asks:
        book.set_ask(price, qty)


def _count_diff(
    mine: dict[int, int], theirs: dict[int, int], in_range: Callable[[int], bool]
) -> int:
    prices = {p for p in mine if in_range(p)} | {p for p in theirs if in_range(p)}
    return sum(1 for p in prices if mine.get(p) != theirs.get(p))

"""Sans-I/O order book for Coinbase Advanced Trade ``level2`` (protocol notes section 2.1).

Facts that shape it:

* The book arrives in-band: a ``snapshot`` event per product, then ``update`` events with
  absolute sizes (``"0"`` removes). No REST stitching: ``product_book`` has no sequence.
* No checksum. The only loss detector is ``sequence_num``, one counter **per connection
  across every channel** (acks, heartbeats, tickers and books share it). A message lost on
  any channel may have been a book update, so a gap invalidates every book of that
  connection.

Hence two pieces. :class:`ConnectionSequence` watches the counter of one connection; on a
gap it moves the connection to a new *epoch* (epochs are unique over the provider's
lifetime, a reconnect also takes a new one; event ids also carry the provider's
``run_epoch``, so a restarted provider, which numbers epochs from 1 again, never repeats an
earlier instance's ids). Every book message is stamped with the epoch
it arrived in. :class:`CoinbaseBookAssembler` (one per product) remembers the epoch of its
snapshot; a diff from another epoch means messages were lost since: ``ResyncNeeded(GAP)``.

Canonical ``seq_provider`` values are :func:`stream_seq` ``(epoch << 32) | sequence_num``:
the per-connection counter restarts at 0 on reconnect, and a plain ``sequence_num`` would
make the dispatcher drop every later event as older.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from tradegw_coinbase.values import decimal, ticks
from tradegw_core.book.orderbook import OrderBook
from tradegw_core.contracts import BookOutput, ResyncNeeded, ResyncReason
from tradegw_core.errors import RejectedFrameError, SchemaError
from tradegw_core.schema.events import BookSnapshot, BookUpdate, EventType, Level, make_event_id
from tradegw_core.schema.symbols import Symbol

__all__ = [
    "CoinbaseBookAssembler",
    "CoinbaseBookDiff",
    "CoinbaseBookSnapshot",
    "ConnectionSequence",
    "SeqVerdict",
    "stream_seq",
]


def stream_seq(epoch: int, seq: int) -> int:
    """A monotonic canonical sequence from a connection epoch and its ``sequence_num``."""
    return (epoch << 32) | (seq & 0xFFFFFFFF)


class CoinbaseBookSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A whole book: an ``l2_data`` snapshot event, or a REST ``product_book`` (no seq)."""

    product_id: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    seq: int | None
    epoch: int | None
    ts_exchange: int | None = None


class CoinbaseBookDiff(msgspec.Struct, frozen=True, kw_only=True):
    """One ``l2_data`` update event for one product: absolute sizes, ``"0"`` removes."""

    product_id: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    seq: int
    epoch: int
    ts_exchange: int | None = None


class SeqVerdict(enum.Enum):
    """What :meth:`ConnectionSequence.observe` concluded about one message."""

    OK = "ok"
    GAP = "gap"
    STALE = "stale"
    """Lower than or equal to the last value: out of order or repeated; ignore it."""


class ConnectionSequence:
    """Continuity of one connection's ``sequence_num`` (every channel counts).

    ``new_epoch`` hands out provider-unique epoch numbers. The first value seen is accepted
    whatever it is (live connections start at 0, but data may precede the acks).
    """

    def __init__(self, new_epoch: Callable[[], int]) -> None:
        self._new_epoch = new_epoch
        self.epoch = new_epoch()
        self.last: int | None = None
        self.gaps = 0
        self.last_gap: tuple[int, int] | None = None
        """(expected, received) of the latest gap."""

    def observe(self, seq: int) -> SeqVerdict:
        """Check the next message's ``sequence_num``; on a gap move to a new epoch."""
        last = self.last
        if last is None or seq == last + 1:
            self.last = seq
            return SeqVerdict.OK
        if seq <= last:
            return SeqVerdict.STALE
        self.gaps += 1
        self.last_gap = (last + 1, seq)
        self.epoch = self._new_epoch()
        self.last = seq
        return SeqVerdict.GAP

    def restart(self) -> None:
        """A new connection: new epoch, counter unknown."""
        self.epoch = self._new_epoch()
        self.last = None


_ZERO = Decimal(0)
_PRICE_CACHE = 8192
"""Bound of an assembler's price cache (overflow policy: clear)."""


class _Side:
    """One side of a book: levels by integer ticks plus the ranks in ascending order.

    ``sign`` is 1 for bids (rank = ticks) and -1 for asks (rank = -ticks), so the best
    level is the last rank on both sides and the busy top of the book is where inserts
    and deletes move the fewest list entries.
    """

    __slots__ = ("levels", "ranks", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, Level] = {}
        self.ranks: list[int] = []

    def clear(self) -> None:
        self.levels.clear()
        self.ranks.clear()

    def set(self, tick: int, level: Level) -> None:
        if tick not in self.levels:
            insort(self.ranks, tick * self.sign)
        self.levels[tick] = level

    def remove(self, tick: int) -> None:
        if self.levels.pop(tick, None) is not None:
            ranks = self.ranks
            del ranks[bisect_left(ranks, tick * self.sign)]

    def best(self) -> int | None:
        return self.ranks[-1] * self.sign if self.ranks else None

    def top(self) -> tuple[Level, ...]:
        levels, sign = self.levels, self.sign
        return tuple(levels[r * sign] for r in reversed(self.ranks))


class CoinbaseBookAssembler:
    """The ``BookAssembler`` of one Coinbase product (see the module docstring).

    Unsynced (at creation and after ``reset`` or a ``ResyncNeeded``) it buffers at most
    ``max_buffer`` diffs (overflow policy: drop the oldest). A WebSocket snapshot loads the
    book; buffered diffs of the same epoch with a higher ``sequence_num`` are replayed into
    it, the rest are older than the snapshot and dropped. When the overflow dropped a diff
    newer than the snapshot, the snapshot is refused with ``ResyncNeeded(GAP)``.

    Levels are kept by exact integer ticks of ``price_precision`` (a dict per side plus a
    sorted rank list, so the best level is always known). Every price and size is checked
    at the edge (:mod:`tradegw_coinbase.values`: ASCII ``digits[.digits]`` within the
    product's precision, prices > 0) and the book must not end up crossed; a message that
    fails resets the assembler and raises :class:`RejectedFrameError` (the provider rejects the
    frame, which resyncs the book). Nothing of such a message is emitted.
    """

    def __init__(
        self,
        symbol: Symbol,
        venue_symbol: str | None = None,
        *,
        price_precision: int,
        qty_precision: int,
        provider: str = "coinbase",
        max_buffer: int = 1000,
        run: str = "",
    ) -> None:
        self.symbol = symbol
        self.run = run
        """The provider's ``run_epoch``: epochs restart with a new provider instance."""
        self.venue_symbol = venue_symbol or symbol
        self.provider = provider
        self._pp = price_precision
        self._qp = qty_precision
        self._bids = _Side(1)
        self._asks = _Side(-1)
        self._prices: dict[str, tuple[int, Decimal]] = {}
        """Price text -> (ticks, Decimal), so a known price costs one lookup."""
        self._synced = False
        self._epoch: int | None = None
        self._last_seq: int | None = None
        self._buffer: deque[CoinbaseBookDiff] = deque(maxlen=max_buffer)
        self._overflow: tuple[int, int] | None = None
        self.gaps = 0
        self.stale_dropped = 0

    @property
    def synced(self) -> bool:
        """True when the book is consistent with the venue."""
        return self._synced

    @property
    def book(self) -> OrderBook:
        """A copy of the current local book (read-only use)."""
        book = OrderBook()
        book.bids = {lv.price: lv.qty for lv in self._bids.levels.values()}
        book.asks = {lv.price: lv.qty for lv in self._asks.levels.values()}
        return book

    def reset(self) -> None:
        """Drop the book and buffer until the next snapshot."""
        self._bids.clear()
        self._asks.clear()
        self._synced = False
        self._epoch = None
        self._last_seq = None
        self._buffer.clear()
        self._overflow = None

    def _event_id(self, kind: EventType, epoch: int, seq: int) -> str:
        return make_event_id(self.provider, self.symbol, kind, f"{self.run}.{epoch}.{seq}")

    def apply_snapshot(self, msg: CoinbaseBookSnapshot, ts_ingest: int) -> Sequence[BookOutput]:
        """Load an ``l2_data`` snapshot, replay newer buffered diffs, return the BookSnapshot."""
        if msg.seq is None or msg.epoch is None:
            raise SchemaError(
                "a Coinbase book is seeded only by the in-band level2 snapshot; a REST "
                "product_book has no sequence and serves reconcile() only"
            )
        epoch, last = msg.epoch, msg.seq
        overflow, self._overflow = self._overflow, None
        if overflow is not None and overflow[0] == epoch and overflow[1] > last:
            # A diff newer than the snapshot was dropped: replaying the rest would leave a hole.
            self._buffer.clear()
            detail = f"diff buffer overflowed past the snapshot (seq {overflow[1]} > {last})"
            return [ResyncNeeded(symbol=self.symbol, reason=ResyncReason.GAP, detail=detail)]
        buffered = [d for d in self._buffer if d.epoch == epoch and d.seq > last]
        self.reset()
        self._apply(self._bids, msg.bids)
        self._apply(self._asks, msg.asks)
        for diff in buffered:
            self._apply_levels(diff)
            last = diff.seq
        self._check_crossed()
        self._synced, self._epoch, self._last_seq = True, epoch, last
        return [
            BookSnapshot(
                event_id=self._event_id(EventType.BOOK_SNAPSHOT, epoch, last),
                provider=self.provider,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=stream_seq(epoch, last),
                ts_exchange=msg.ts_exchange,
                ts_ingest=ts_ingest,
                bids=self._bids.top(),
                asks=self._asks.top(),
            )
        ]

    def _apply(self, side: _Side, rows: Sequence[tuple[str, str]]) -> list[Level]:
        """Set ``rows`` on one side in order (size ``"0"`` removes); the changed levels.

        Sizes are checked inline (the hot loop): ASCII ``digits[.digits]`` within the
        quantity precision; prices through a bounded cache of checked prices.
        """
        prices = self._prices
        pp, qp = self._pp, self._qp
        changed: list[Level] = []
        try:
            for ptext, qtext in rows:
                known = prices.get(ptext)
                if known is None:
                    tick = ticks(ptext, pp)
                    if tick <= 0:
                        raise RejectedFrameError(f"price {ptext!r} is not > 0")
                    if len(prices) >= _PRICE_CACHE:
                        prices.clear()
                    known = prices[ptext] = (tick, Decimal(ptext))
                whole, dot, frac = qtext.partition(".")
                if (
                    len(frac) > qp
                    or len(whole) > 18
                    or not whole.isdigit()
                    or not (frac.isdigit() or not (frac or dot))
                    or not qtext.isascii()
                ):
                    raise RejectedFrameError(
                        f"size {qtext[:40]!r} is not a number >= 0 within {qp}"
                    )
                if whole.strip("0") or frac.strip("0"):
                    level = Level(known[1], Decimal(qtext))
                    side.set(known[0], level)
                else:
                    level = Level(known[1], _ZERO)
                    side.remove(known[0])
                changed.append(level)
        except RejectedFrameError:
            self.reset()
            raise
        return changed

    def _apply_levels(self, diff: CoinbaseBookDiff) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return tuple(self._apply(self._bids, diff.bids)), tuple(self._apply(self._asks, diff.asks))

    def _check_crossed(self) -> None:
        bid, ask = self._bids.best(), self._asks.best()
        if bid is not None and ask is not None and bid >= ask:
            self.reset()
            raise RejectedFrameError("crossed book: best bid >= best ask", reason="crossed")

    def apply_diff(self, msg: CoinbaseBookDiff, ts_ingest: int) -> Sequence[BookOutput]:
        """Apply one update, or buffer it while unsynced; a new epoch means a gap."""
        if not self._synced:
            buffer = self._buffer
            if buffer.maxlen is not None and len(buffer) == buffer.maxlen:
                lost = buffer[0]  # overflow policy: drop the oldest, remember how far
                self._overflow = max(
                    self._overflow or (lost.epoch, lost.seq), (lost.epoch, lost.seq)
                )
            buffer.append(msg)
            return []
        if msg.epoch != self._epoch:
            self.gaps += 1
            self.reset()
            return [
                ResyncNeeded(
                    symbol=self.symbol,
                    reason=ResyncReason.GAP,
                    detail=f"sequence_num gap or reconnect on the connection before seq {msg.seq}",
                )
            ]
        prev = self._last_seq
        if prev is not None and msg.seq <= prev:
            self.stale_dropped += 1
            return []
        bids, asks = self._apply_levels(msg)
        self._check_crossed()
        self._last_seq = msg.seq
        if not bids and not asks:
            return []
        epoch = msg.epoch
        seq = stream_seq(epoch, msg.seq)
        return [
            BookUpdate(
                event_id=self._event_id(EventType.BOOK_UPDATE, epoch, msg.seq),
                provider=self.provider,
                symbol=self.symbol,
                venue_symbol=self.venue_symbol,
                seq_provider=seq,
                ts_exchange=msg.ts_exchange,
                ts_ingest=ts_ingest,
                bids=bids,
                asks=asks,
                first_seq=seq,
                last_seq=seq,
                prev_seq=None if prev is None else stream_seq(epoch, prev),
            )
        ]

    def reconcile(self, msg: CoinbaseBookSnapshot) -> int:
        """Count price levels differing from a fresh (REST) book, over the range it covers.

        The REST book is depth-limited, so each side is compared only within its price
        range (bids at or above its lowest bid, asks at or below its highest ask); a price
        counts once when it is missing on one side or its size differs. Returns 0 when
        unsynced (nothing to compare: the stage is resyncing already). Read-only. The REST
        values are checked like the stream's (RejectedFrameError).
        """
        if not self._synced:
            return 0
        count = 0
        for side, rows in ((self._bids, msg.bids), (self._asks, msg.asks)):
            rest = {ticks(p, self._pp): decimal(q, self._qp) for p, q in rows}
            if not rest:
                continue
            sign = side.sign
            edge = min(t * sign for t in rest)  # the rank of the REST book's worst level
            mine = {r * sign: side.levels[r * sign].qty for r in side.ranks if r >= edge}
            count += sum(1 for t in mine.keys() | rest.keys() if mine.get(t) != rest.get(t))
        return count

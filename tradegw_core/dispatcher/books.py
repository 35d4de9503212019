"""BookSnapshots of a provider's assembled book, for one consumer's resync (design section 9).

A consumer that joins a book stream late, or whose lane could not take a BookSnapshot, is
given a snapshot of the book the provider's book stage holds at that moment; the venue is
not asked again and no other consumer sees it. :class:`AssembledBooks` is the dispatcher's
``books`` source: it answers None while the symbol's book is not live (not synced yet, or
resyncing), and the venue's own next snapshot then serves the consumer instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradegw_core.clock import Clock
from tradegw_core.schema.events import BookSnapshot, EventType, make_event_id

__all__ = ["AssembledBooks"]


class AssembledBooks:
    """``books(provider, symbol, seq)``: a snapshot of the live assembled book, or None."""

    def __init__(self, stages: Mapping[str, Any], clock: Clock) -> None:
        self._stages = stages
        self._clock = clock
        self.made = 0

    def serves(self, provider: str, symbol: str) -> bool:
        """True when ``provider`` has a book stage for ``symbol`` (it assembles that book).

        A provider that sends book events without a stage cannot resync one consumer:
        its late joiners get the updates as they come.
        """
        stages = self._stages.get(provider)
        return stages is not None and stages.get(symbol) is not None

    def __call__(self, provider: str, symbol: str, seq: int | None) -> BookSnapshot | None:
        """The book of ``provider``'s ``symbol`` now; ``seq``: the last update delivered."""
        stages = self._stages.get(provider)
        stage = stages.get(symbol) if stages is not None else None
        if stage is None or not stage.live:
            return None
        book = stage.assembler.book
        self.made += 1
        return BookSnapshot(
            event_id=make_event_id(provider, symbol, EventType.BOOK_SNAPSHOT, f"a{self.made}"),
            provider=provider,
            symbol=symbol,
            venue_symbol=stage.venue_symbol,
            seq_provider=seq,
            ts_ingest=self._clock.monotonic_ns(),
            bids=tuple(book.top_bids()),
            asks=tuple(book.top_asks()),
        )

"""cryptofeed on the same frames, offline: its feed's message handler with a callback.

cryptofeed is a bench-only extra (``pip install -e '.[bench]'``, which ``make bench``
does). Without it the column is left out with a note. The feed never connects: its
symbol table is filled from the captured listing, its REST snapshot reads answer from the
capture, and every frame goes to ``feed.message_handler(frame, conn, receipt_ts)`` as
its connection handler would pass it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradegw_core.bench.captures import PeerInput
from tradegw_core.bench.harness import Books

__all__ = ["PeerRun", "cryptofeed_version", "run_peer"]


def cryptofeed_version() -> str | None:
    """The installed cryptofeed version, or None."""
    try:
        return importlib.metadata.version("cryptofeed")
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class PeerRun:
    """One pass of cryptofeed over a case's frames."""

    seconds: float
    callbacks: int
    books: Books = field(default_factory=dict)


class _Conn:
    """What the handler may read off its connection."""

    uuid = "bench"
    conn_id = "bench"


def _feed(inp: PeerInput, on_book: Any, on_trade: Any) -> Any:  # pragma: no cover - bench-only
    from cryptofeed.defines import L2_BOOK, TRADES
    from cryptofeed.symbols import Symbols

    options: dict[str, Any] = {}
    if inp.venue == "binance":
        from cryptofeed.exchanges import Binance as Feed
    elif inp.venue == "kraken":
        from cryptofeed.exchanges import Kraken as Feed

        options = {"max_depth": inp.depth, "checksum_validation": True}
    elif inp.venue == "coinbase":
        from cryptofeed.exchanges import Coinbase as Feed
    else:
        raise ValueError(inp.venue)
    syms, info = Feed._parse_symbol_data(inp.symbol_info)
    Symbols.set(Feed.id, syms, info)
    channel = TRADES if inp.trades else L2_BOOK
    feed = Feed(
        symbols=inp.symbols,
        channels=[channel],
        callbacks={channel: on_book if channel == L2_BOOK else on_trade},
        **options,
    )
    snapshots = inp.snapshots

    async def read(url: str, *args: Any, **kwargs: Any) -> str:
        symbol = url.split("symbol=", 1)[1].split("&", 1)[0]
        return snapshots[symbol]

    feed.http_conn.read = read
    return feed


async def run_peer(inp: PeerInput, *, keep_books: bool) -> PeerRun:  # pragma: no cover
    """One pass over ``inp``'s frames; the books at the end when ``keep_books``."""
    logging.getLogger("feedhandler").setLevel(logging.ERROR)  # "Invalid message type" notes
    count = 0
    last: dict[str, Any] = {}

    async def on_book(book: Any, receipt: float) -> None:
        nonlocal count
        count += 1
        if keep_books:
            last[book.symbol] = book

    async def on_trade(trade: Any, receipt: float) -> None:
        nonlocal count
        count += 1

    feed = _feed(inp, on_book, on_trade)
    handler = feed.message_handler
    conn = _Conn()
    frames = inp.frames
    now = time.time
    for frame in inp.setup:
        await handler(frame, conn, now())
    count = 0
    start = time.perf_counter()
    for frame in frames:
        await handler(frame, conn, now())
    seconds = time.perf_counter() - start
    books: Books = {}
    for symbol, book in last.items():
        books[str(symbol)] = (
            {Decimal(p): Decimal(q) for p, q in book.book.bids.to_dict().items()},
            {Decimal(p): Decimal(q) for p, q in book.book.asks.to_dict().items()},
        )
    return PeerRun(seconds, count, books)

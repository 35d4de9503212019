"""The provider's per-symbol depth feed: the hot frame handler in front of the book stage.

Each subscribed ``<symbol>@depth`` stream is routed (``StreamConnection`` ``routes``) to its
:class:`DepthFeed`'s :meth:`~DepthFeed.on_frame`: one msgspec pass straight into the
``depthUpdate`` Struct, then the core's book stage and the assembler. Whatever arrives,
nothing escapes: a frame that does not fit, names another symbol or carries a bad value is
rejected (``ctx.reject_frame`` with the symbol), which resyncs this one book.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import msgspec

from tradegw_binance.book import BinanceBookAssembler
from tradegw_binance.decoding import DEPTH_FRAME
from tradegw_binance.values import FrameRejected
from tradegw_core.contracts import BookStage
from tradegw_core.schema.symbols import Symbol

__all__ = ["DepthFeed"]


class DepthFeed:
    """One symbol's book as the provider keeps it: its depth stream's frame handler, the
    assembler and stage, and waiters for the next diff (resync and reconcile use them)."""

    def __init__(
        self,
        stream: str,
        assembler: BinanceBookAssembler,
        stage: BookStage,
        reject: Callable[[str, str, Symbol | None], None],
    ) -> None:
        self.stream = stream
        self._reject = reject
        self.symbol = assembler.symbol
        self.venue_symbol = assembler.venue_symbol
        self.assembler = assembler
        self.stage = stage
        self.diff_waiter: anyio.Event | None = None
        """Set (and dropped) by the next diff: a resync or reconcile is waiting for one."""
        self.reconciled_ns = -(2**62)
        """Monotonic time of the last reconcile snapshot."""

    def on_frame(self, data: bytes | str, ts_ingest: int) -> None:
        """One frame of this book's depth stream (reader task, hot path): never raises.

        Decoded once, straight into the payload Struct. A frame that does not fit or
        carries a bad value is rejected (``ctx.reject_frame``), which resyncs this book.
        """
        try:
            msg = DEPTH_FRAME.decode(data).data
            if msg.s != self.venue_symbol:
                raise FrameRejected("unknown_symbol", f"{msg.s!r:.40} on stream {self.stream}")
            waiter = self.diff_waiter
            if waiter is not None:
                self.diff_waiter = None
                waiter.set()
            self.stage.on_diff(msg, ts_ingest)
        except FrameRejected as exc:
            self._reject(exc.reason, exc.detail, self.symbol)
        except msgspec.ValidationError as exc:
            self._reject("schema", f"{self.stream}: {exc}", self.symbol)
        except msgspec.DecodeError as exc:
            self._reject("decode", f"{self.stream}: {exc}", self.symbol)
        except RecursionError:
            self._reject("too_deep", f"{self.stream}: nested too deeply", self.symbol)

    async def next_diff(self, within_s: float) -> None:
        """Wait up to ``within_s`` for the next diff of this book."""
        waiter = self.diff_waiter
        if waiter is None:
            waiter = self.diff_waiter = anyio.Event()
        with anyio.move_on_after(within_s):
            await waiter.wait()

"""Rejected frames: count them per provider and reason, log at a bounded rate, resync a book.

A venue frame that cannot be used (undecodable, too large, nested too deep, off-schema, a
malformed value, an unknown symbol, a crossed book) is *rejected*: it is dropped, counted in
``tradegw_provider_frames_rejected_total{provider,reason}``, logged at a bounded rate (a
WARNING naming the provider, the reason and a truncated, secret-free detail), and, when it
was meant for one symbol's book, that book is resynced. A rejection never raises and never
restarts anything. Providers reach it as ``ctx.reject_frame(reason, detail=..., symbol=...)``
(:class:`tradegw_core.contracts.VenueContext`); the WebSocket client rejects frames that are
too large before anyone parses them, and frame handler errors that escape a provider.

Reasons are short tokens (``[a-z][a-z0-9_]*``, at most 32 characters), such as those in
:data:`REASONS`; each provider keeps at most ``max_reasons`` distinct ones (later new ones
are counted as ``other``), so the metric's cardinality stays bounded whatever a plugin does.

Usage::

    rejects = FrameRejects("binance", metrics=metrics, clock=clock, resync=resync_book)
    rejects.reject("value", detail="bid price 'NaN'", symbol=Symbol("BTC-USDT"))
    rejects.counts["value"]        # -> 1
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from tradegw_core.observability.logging import mask_secrets

__all__ = ["REASONS", "FrameRejects", "LogLimiter", "RejectHandler", "scrub"]

REASONS: dict[str, str] = {
    "decode": "not valid JSON (or not the venue's envelope)",
    "too_large": "longer than the connection's max_frame_bytes (refused before parsing)",
    "too_deep": "JSON nested deeper than the decoder's limit",
    "schema": "valid JSON that does not match the venue's message schema",
    "value": "a malformed value (NaN, infinite, negative, non-ASCII digits, bad precision)",
    "unknown_symbol": "a symbol the provider does not know or did not subscribe",
    "crossed": "a book update that would leave the book crossed",
    "handler_error": "an exception escaped the provider's frame handler (a plugin bug)",
    "other": "a reason past the per-provider limit of distinct reasons",
}
"""Well-known reasons and what they mean (providers may add their own short tokens)."""

METRIC = "tradegw_provider_frames_rejected_total"

RejectHandler = Callable[..., None]
"""``reject(reason, *, detail="", symbol=None, exc=None)``: what ``ctx.reject_frame`` is."""

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,31}")
_NS = 1_000_000_000


def scrub(detail: Any, limit: int = 160) -> str:
    """``detail`` as one printable line of at most ``limit`` characters, secrets masked.

    Anything after a secret-looking key (``signature=``, ``"apiKey":``, ``Bearer``...) is
    replaced with ``***``; control characters become ``?``.
    """
    text = detail if isinstance(detail, str) else str(detail)
    text = mask_secrets(text[: limit * 4])
    if len(text) > limit:
        text = text[:limit] + "..."
    return "".join(c if c.isprintable() else "?" for c in text)


class LogLimiter:
    """At most ``burst`` lines at once, then one per ``interval_s``; counts what it drops.

    ``allow()`` returns None when the line must be dropped, else how many lines were
    dropped since the last allowed one (to say so in the line).
    """

    __slots__ = ("_last_ns", "_now_ns", "_per_ns", "_tokens", "burst", "suppressed")

    def __init__(
        self,
        *,
        burst: int = 5,
        interval_s: float = 10.0,
        now_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if burst < 1 or interval_s <= 0:
            raise ValueError("a log limiter needs burst >= 1 and interval_s > 0")
        self.burst = float(burst)
        self._per_ns = 1.0 / (interval_s * _NS)
        self._tokens = float(burst)
        self._now_ns = now_ns
        self._last_ns = now_ns()
        self.suppressed = 0

    def allow(self) -> int | None:
        """Take one line from the budget: None to drop it, else the count dropped before."""
        now = self._now_ns()
        if now > self._last_ns:
            self._tokens = min(self.burst, self._tokens + (now - self._last_ns) * self._per_ns)
            self._last_ns = now
        if self._tokens < 1.0:
            self.suppressed += 1
            return None
        self._tokens -= 1.0
        dropped, self.suppressed = self.suppressed, 0
        return dropped


class FrameRejects:
    """The rejected-frame accounting of one provider; see the module docstring.

    ``metrics`` is the gateway's :class:`~tradegw_core.observability.metrics.Metrics` (None:
    counted in :attr:`counts` only); ``resync(symbol, detail)`` resyncs one symbol's book
    when the provider serves it (None: no book). ``counts`` holds the totals by reason.
    """

    def __init__(
        self,
        provider: str,
        *,
        metrics: Any = None,
        now_ns: Callable[[], int] = time.monotonic_ns,
        resync: Callable[[str, str], None] | None = None,
        logger: logging.Logger | None = None,
        log_burst: int = 5,
        log_interval_s: float = 10.0,
        max_reasons: int = 32,
    ) -> None:
        self.provider = provider
        self.counts: dict[str, int] = {}
        self.failures = 0
        """Rejections whose accounting itself failed (never raised to the caller)."""
        self._metrics = metrics
        self._resync = resync
        self._log = logger if logger is not None else logging.getLogger("tradegw.frames")
        self._limiter = LogLimiter(burst=log_burst, interval_s=log_interval_s, now_ns=now_ns)
        self._max_reasons = max_reasons

    @property
    def total(self) -> int:
        """Frames rejected so far, all reasons."""
        return sum(self.counts.values())

    def reject(
        self,
        reason: str,
        *,
        detail: Any = "",
        symbol: str | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """Count, log (bounded), resync ``symbol``'s book; never raises."""
        try:
            self._reject(reason, detail, symbol, exc)
        except Exception:  # accounting must never take the reader down
            self.failures += 1

    __call__ = reject

    def _reject(
        self, reason: str, detail: Any, symbol: str | None, exc: BaseException | None
    ) -> None:
        counts = self.counts
        if reason not in counts and (
            len(counts) >= self._max_reasons
            or not isinstance(reason, str)
            or not _TOKEN.fullmatch(reason)
        ):
            reason = "other"
        counts[reason] = counts.get(reason, 0) + 1
        if self._metrics is not None:
            self._metrics.inc(METRIC, provider=self.provider, reason=reason)
        if symbol is not None and self._resync is not None:
            self._resync(symbol, f"rejected frame ({reason})")
        dropped = self._limiter.allow()
        if dropped is None:
            return
        more = f" ({dropped} more rejected frames not logged)" if dropped else ""
        where = f" for {scrub(symbol, 40)}" if symbol is not None else ""
        self._log.warning(
            "%s: rejected a frame%s: %s: %s%s",
            self.provider,
            where,
            reason,
            scrub(detail) or "-",
            more,
            exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
        )

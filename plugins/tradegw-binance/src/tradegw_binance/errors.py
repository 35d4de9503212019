"""Binance error codes -> the tradegw error tree, and which of them are worth retrying.

Mapping (binance.md sections 3, 4.2, 4.4)::

    HTTP 429, -1003, -1015          RateLimitedError        retryable, ``retry_after``
    HTTP 418                        VenueBannedError        retryable, ``retry_after``
    -1022, -2014, -2015, HTTP 401   AuthenticationError     not retryable
    -1021 (timestamp/recvWindow)    BinanceRejectedError    retryable once the clock is synced
    -2010 duplicate / balance / ... BinanceRejectedError    not retryable, ``reason`` says which
    -1013 filter failure            BinanceRejectedError    ``reason="filter_failure"``
    -2011, -2013 unknown order      BinanceRejectedError    ``reason="unknown_order"``
    -1007, HTTP 5xx on a submission OrderOutcomeUnknownError  query, never resend
    -1007 otherwise                 BinanceRejectedError    ``reason="unknown_outcome"``
    HTTP 5xx otherwise              VenueError              retryable
    anything else                   BinanceRejectedError    ``code`` kept
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from tradegw_binance.schemas import BinanceErrorMsg
from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueBannedError,
    VenueError,
    VenueRejectedError,
)

__all__ = [
    "VENUE",
    "BinanceRejectedError",
    "error_from_code",
    "error_from_http",
    "parse_retry_after",
]

VENUE = "binance"

_AUTH_CODES = frozenset({-1022, -2014, -2015})
_RATE_CODES = frozenset({-1003, -1015})
_UNKNOWN_OUTCOME = -1007
_TIMESTAMP = -1021
_error_decoder = msgspec.json.Decoder(BinanceErrorMsg)


class BinanceRejectedError(VenueRejectedError):
    """Binance refused a request; ``reason`` is a short word a consumer can act on.

    Reasons: ``duplicate`` (an open order already has the client order id),
    ``insufficient_balance``, ``filter_failure`` (``filter`` names it), ``would_take``
    (post-only), ``market_closed``, ``unknown_order``, ``timestamp``, ``unknown_outcome``
    (-1007 on a request not known to place an order), ``rejected``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        reason: str = "rejected",
        filter_name: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, venue=VENUE, code=code)
        self.reason = reason
        self.filter_name = filter_name
        self.retryable = retryable


def _reason_2010(msg: str) -> str:
    low = msg.lower()
    if "duplicate" in low:
        return "duplicate"
    if "insufficient balance" in low:
        return "insufficient_balance"
    if "immediately match" in low:
        return "would_take"
    if "market is closed" in low:
        return "market_closed"
    return "rejected"


def error_from_code(
    code: int,
    msg: str,
    *,
    http_status: int | None = None,
    retry_after: float | None = None,
    submission: bool = False,
) -> VenueError:
    """The tradegw error for a venue error code (REST body or WS API ``error``).

    ``submission`` says the request placed an order: then an unknown outcome becomes
    :class:`OrderOutcomeUnknownError` (resolve by query) instead of a retryable error.
    """
    text = f"binance error {code}: {msg}"
    if http_status == 418:
        return VenueBannedError(
            f"{text} (HTTP 418: IP banned; wait before any request)",
            venue=VENUE,
            retry_after=retry_after,
        )
    if http_status == 429 or code in _RATE_CODES:
        return RateLimitedError(
            f"{text} (rate limited; back off)", venue=VENUE, retry_after=retry_after
        )
    if code in _AUTH_CODES or http_status == 401:
        return AuthenticationError(
            f"{text} (check providers.binance.api_key and its secret / key type)", venue=VENUE
        )
    if code == _UNKNOWN_OUTCOME or (http_status is not None and http_status >= 500):
        if submission:
            return OrderOutcomeUnknownError(
                f"{text} (outcome unknown: query the order, never resend)", venue=VENUE
            )
        if code == _UNKNOWN_OUTCOME:
            return BinanceRejectedError(
                f"{text} (outcome unknown)", code=code, reason="unknown_outcome", retryable=True
            )
        return VenueError(text, venue=VENUE, retryable=True)
    if code == _TIMESTAMP:
        return BinanceRejectedError(
            f"{text} (local clock and venue clock disagree beyond recvWindow)",
            code=code,
            reason="timestamp",
            retryable=True,
        )
    if code == -2010:
        return BinanceRejectedError(text, code=code, reason=_reason_2010(msg))
    if code == -1013 and "filter failure" in msg.lower():
        name = msg.split(":", 1)[1].strip() if ":" in msg else None
        return BinanceRejectedError(text, code=code, reason="filter_failure", filter_name=name)
    if code in (-2011, -2013):
        return BinanceRejectedError(text, code=code, reason="unknown_order")
    return BinanceRejectedError(text, code=code)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header, or None."""
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def error_from_http(
    status: int, body: bytes, headers: Mapping[str, str], *, submission: bool = False
) -> VenueError:
    """The tradegw error for a non-2xx REST answer."""
    retry_after = parse_retry_after(headers)
    try:
        err = _error_decoder.decode(body)
        code, msg = err.code, err.msg
    except msgspec.DecodeError:
        code, msg = 0, body[:200].decode(errors="replace") or f"HTTP {status}"
    return error_from_code(
        code, msg, http_status=status, retry_after=retry_after, submission=submission
    )

"""Kraken error strings -> the tradegw error tree, with retryable flags.

Kraken answers ``{"error": ["EOrder:Insufficient funds"], ...}`` (REST, HTTP 200) or
``{"success": false, "error": "..."}`` (WebSocket). Strings are ``<E|W><Category>:<text>``,
sometimes with a detail appended (``EGeneral:Invalid arguments:volume``): matching is by
prefix. Whether trying again can help is decided here, so retry loops never test venues.
"""

from __future__ import annotations

from collections.abc import Sequence

from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueError,
    VenueRejectedError,
)

__all__ = ["VENUE", "is_retryable", "map_error", "map_errors"]

VENUE = "kraken"

_AUTH = ("EAPI:Invalid key", "EAPI:Invalid signature", "EGeneral:Permission denied")
_RATE = (
    "EAPI:Rate limit exceeded",
    "EOrder:Rate limit exceeded",
    "EGeneral:Temporary lockout",
    "Exceeded msg rate",
)
# The request was refused before it could act: sending it again (a new nonce) is safe.
_RETRYABLE_REFUSALS = (
    "EAPI:Invalid nonce",
    "EService:Unavailable",
    "EService:Busy",
    "EService:Deadline elapsed",
)
# The venue failed while handling it: for an order submission the outcome is unknown.
_UNKNOWN = ("EGeneral:Internal error",)


def _matches(text: str, prefixes: Sequence[str]) -> bool:
    return any(text.startswith(p) for p in prefixes)


def is_retryable(text: str) -> bool:
    """True when sending the same request again (with a new nonce) can succeed."""
    return _matches(text, _RATE) or _matches(text, _RETRYABLE_REFUSALS)


def map_error(text: str, *, submission: bool = False, context: str = "") -> VenueError:
    """One Kraken error string as a tradegw error.

    ``submission`` marks an order submission, where an internal venue error means the order
    may or may not exist (``OrderOutcomeUnknownError``: query, never resend).
    """
    where = f"{context}: " if context else ""
    message = f"Kraken refused {where}{text}"
    if _matches(text, _AUTH):
        return AuthenticationError(
            f"{message} (check providers.kraken.api_key / api_secret and key permissions)",
            venue=VENUE,
        )
    if _matches(text, _RATE):
        return RateLimitedError(f"{message} (slow down)", venue=VENUE)
    if _matches(text, _UNKNOWN):
        if submission:
            return OrderOutcomeUnknownError(
                f"{message}: the order may or may not exist; querying", venue=VENUE
            )
        return VenueError(message, venue=VENUE, retryable=True)
    err = VenueRejectedError(message, venue=VENUE, code=text)
    if _matches(text, _RETRYABLE_REFUSALS):
        err.retryable = True
    return err


def map_errors(errors: Sequence[str], *, submission: bool = False, context: str = "") -> VenueError:
    """The REST ``error`` list as one error (the first string decides the type)."""
    if not errors:
        return VenueError(f"Kraken answered an empty error list {context}".strip(), venue=VENUE)
    first = map_error(errors[0], submission=submission, context=context)
    if len(errors) > 1:
        first.args = (f"{first.args[0]} (also: {'; '.join(errors[1:])})",)
    return first

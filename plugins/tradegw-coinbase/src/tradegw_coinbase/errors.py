"""Coinbase answers -> the tradegw error tree (protocol notes sections 1.2, 4.2, 4.3).

Which errors are retryable is decided here, so retry and reconnect loops never test the
venue. Shapes:

* REST transport/auth errors: an HTTP status with ``{"error", "message", "error_details"}``
  (``PERMISSION_DENIED``, ``INVALID_ARGUMENT``, ``NOT_FOUND``...); a bad or expired JWT is
  HTTP 401 with the text body ``Unauthorized``.
* Order business failures: HTTP 200 with ``success: false`` and ``error_response``
  (``new_order_failure_reason``, the current field, and ``error``, the older one).
* WebSocket: ``{"type": "error", "message": "failure to subscribe"}``;
  ``"authentication failure"`` also for an unknown channel name.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tradegw_core.errors import (
    AuthenticationError,
    RateLimitedError,
    VenueConnectionError,
    VenueError,
    VenueRejectedError,
)

__all__ = [
    "DUPLICATE_CLIENT_ORDER_ID",
    "VENUE",
    "is_duplicate_failure",
    "map_http_error",
    "map_order_failure",
    "map_ws_error",
    "order_failure_code",
]

VENUE = "coinbase"
DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
"""Listed by a third-party study of the OpenAPI enum (unverified): means "the order exists"."""

_HINTS = {
    "INSUFFICIENT_FUND": "not enough balance in the source account",
    "INSUFFICIENT_FUNDS": "not enough balance in the source account",
    "INVALID_SIZE_PRECISION": "the size is not a multiple of the product's base_increment",
    "INVALID_PRICE_PRECISION": "the price is not a multiple of the product's price_increment",
    "INVALID_PRODUCT_ID": "unknown product id",
    "UNSUPPORTED_ORDER_CONFIGURATION": "this order type is not supported for the product",
    "INVALID_LIMIT_PRICE_POST_ONLY": "a post-only order would have crossed the book",
    "ORDER_ENTRY_DISABLED": "order entry is disabled for the product",
}


def _json(body: bytes | str) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def map_http_error(
    status: int, body: bytes | str, *, retry_after: float | None = None
) -> VenueError:
    """The error for a non-2xx REST answer (the caller raises it ``from`` the cause)."""
    data = _json(body)
    code = str(data.get("error") or "")
    text = (
        str(data.get("message") or "")
        or (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).strip()[:200]
    )
    where = f"Coinbase HTTP {status}"
    if status == 401 or code.lower() in ("unauthorized", "unauthenticated"):
        return AuthenticationError(
            f"{where} {text or 'Unauthorized'}: the JWT was refused; check api_key_name, "
            "api_private_key, the key's permissions and the system clock (JWTs live 120 s)",
            venue=VENUE,
        )
    if status == 403 or code == "PERMISSION_DENIED":
        return AuthenticationError(
            f"{where} {code} {text}: the API key lacks the permission (view/trade) "
            "or the portfolio for this request",
            venue=VENUE,
        )
    if status == 429:
        return RateLimitedError(
            f"{where}: rate limited ({text or code}); slow down",
            venue=VENUE,
            retry_after=retry_after,
        )
    if status >= 500:
        return VenueConnectionError(f"{where}: server error {code} {text}".strip(), venue=VENUE)
    return VenueRejectedError(f"{where} {code}: {text}".strip(), venue=VENUE, code=code or status)


def order_failure_code(data: dict[str, Any]) -> str:
    """The failure code of a ``success: false`` create answer (new field first)."""
    err = data.get("error_response") or {}
    if not isinstance(err, dict):
        err = {}
    return str(
        err.get("new_order_failure_reason")
        or err.get("error")
        or data.get("failure_reason")
        or "UNKNOWN_FAILURE_REASON"
    )


def is_duplicate_failure(data: dict[str, Any]) -> bool:
    """True when the venue says the ``client_order_id`` was used: the order exists."""
    return order_failure_code(data) == DUPLICATE_CLIENT_ORDER_ID


def map_order_failure(data: dict[str, Any]) -> VenueRejectedError:
    """A ``success: false`` create answer as a rejection with the venue's code."""
    code = order_failure_code(data)
    err = data.get("error_response") or {}
    message = str(err.get("message") or "") if isinstance(err, dict) else ""
    hint = _HINTS.get(code, "")
    detail = "; ".join(x for x in (message, hint) if x)
    return VenueRejectedError(
        f"Coinbase rejected the order: {code}" + (f" ({detail})" if detail else ""),
        venue=VENUE,
        code=code,
    )


def map_ws_error(message: str) -> VenueError:
    """A WebSocket ``error`` frame as an error."""
    if "authentication" in message.lower():
        return AuthenticationError(
            f"Coinbase WebSocket: {message} (a bad or expired JWT, or an unknown channel name)",
            venue=VENUE,
        )
    return VenueRejectedError(f"Coinbase WebSocket: {message}", venue=VENUE, code=message)

"""Venue answers -> the tradegw error tree, with retryability decided in one place."""

from __future__ import annotations

from tradegw_coinbase.errors import (
    is_duplicate_failure,
    map_http_error,
    map_order_failure,
    map_ws_error,
)

from tradegw_core.errors import (
    AuthenticationError,
    RateLimitedError,
    VenueConnectionError,
    VenueRejectedError,
)

# Business failure example of the protocol notes, section 4.2.
FAILURE = {
    "success": False,
    "failure_reason": "UNKNOWN_FAILURE_REASON",
    "error_response": {
        "error": "INSUFFICIENT_FUND",
        "new_order_failure_reason": "INSUFFICIENT_FUND",
        "message": "Insufficient balance in source account",
        "error_details": "",
        "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND",
    },
}


def test_http_statuses() -> None:
    auth = map_http_error(401, b"Unauthorized\n")
    assert isinstance(auth, AuthenticationError)
    assert not auth.retryable
    assert "Unauthorized" in str(auth)
    assert "api_private_key" in str(auth)
    denied = map_http_error(403, b'{"error":"PERMISSION_DENIED","message":"no trade"}')
    assert isinstance(denied, AuthenticationError)
    limited = map_http_error(429, b"", retry_after=2.0)
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 2.0
    assert limited.retryable
    server = map_http_error(503, b"upstream")
    assert isinstance(server, VenueConnectionError)
    assert server.retryable
    bad = map_http_error(400, b'{"error":"INVALID_ARGUMENT","message":"bad product_id"}')
    assert isinstance(bad, VenueRejectedError)
    assert bad.code == "INVALID_ARGUMENT"
    assert "bad product_id" in str(bad)
    assert not bad.retryable
    missing = map_http_error(404, b"not json")
    assert isinstance(missing, VenueRejectedError)
    assert missing.code == 404


def test_order_business_failure_uses_the_current_field() -> None:
    err = map_order_failure(FAILURE)
    assert err.code == "INSUFFICIENT_FUND"
    assert "Insufficient balance" in str(err)
    assert not err.retryable
    old_only = {"success": False, "error_response": {"error": "INVALID_SIZE_PRECISION"}}
    assert map_order_failure(old_only).code == "INVALID_SIZE_PRECISION"
    assert "base_increment" in str(map_order_failure(old_only))
    assert map_order_failure({"success": False}).code == "UNKNOWN_FAILURE_REASON"
    assert not is_duplicate_failure(FAILURE)
    dup = {
        "success": False,
        "error_response": {"new_order_failure_reason": "DUPLICATE_CLIENT_ORDER_ID"},
    }
    assert is_duplicate_failure(dup)


def test_websocket_errors() -> None:
    assert isinstance(map_ws_error("authentication failure"), AuthenticationError)
    sub = map_ws_error("failure to subscribe")
    assert isinstance(sub, VenueRejectedError)
    assert sub.code == "failure to subscribe"

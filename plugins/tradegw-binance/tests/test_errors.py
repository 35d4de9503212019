"""Venue error codes map to the tradegw error tree with the right retry semantics."""

from __future__ import annotations

import pytest
from tradegw_binance.errors import BinanceRejectedError, error_from_code, error_from_http

from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueBannedError,
    VenueError,
)


def test_duplicate_and_insufficient_balance_are_distinct_rejections() -> None:
    dup = error_from_http(400, b'{"code":-2010,"msg":"Duplicate order sent."}', {})
    assert isinstance(dup, BinanceRejectedError)
    assert dup.reason == "duplicate"
    assert dup.code == -2010
    assert not dup.retryable
    assert dup.venue == "binance"
    bal = error_from_code(-2010, "Account has insufficient balance for requested action.")
    assert isinstance(bal, BinanceRejectedError)
    assert bal.reason == "insufficient_balance"
    take = error_from_code(-2010, "Order would immediately match and take.")
    assert isinstance(take, BinanceRejectedError)
    assert take.reason == "would_take"
    closed = error_from_code(-2010, "Market is closed.")
    assert isinstance(closed, BinanceRejectedError)
    assert closed.reason == "market_closed"


def test_filter_failures_name_the_filter() -> None:
    err = error_from_code(-1013, "Filter failure: LOT_SIZE")
    assert isinstance(err, BinanceRejectedError)
    assert (err.reason, err.filter_name) == ("filter_failure", "LOT_SIZE")
    assert "LOT_SIZE" in str(err)


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitedError), (418, VenueBannedError)])
def test_rate_limit_and_ban_carry_retry_after(status: int, cls: type[RateLimitedError]) -> None:
    err = error_from_http(
        status, b'{"code":-1003,"msg":"Too many requests."}', {"Retry-After": "37"}
    )
    assert type(err) is cls
    assert err.retry_after == 37.0
    assert err.retryable


def test_rate_limit_codes_without_http_status() -> None:
    assert isinstance(error_from_code(-1015, "Too many new orders."), RateLimitedError)


@pytest.mark.parametrize("code", [-1022, -2014, -2015])
def test_auth_errors_are_not_retryable(code: int) -> None:
    err = error_from_code(code, "Signature for this request is not valid.")
    assert isinstance(err, AuthenticationError)
    assert not err.retryable


def test_timestamp_error_is_retryable_after_a_clock_sync() -> None:
    err = error_from_code(-1021, "Timestamp for this request is outside of the recvWindow.")
    assert isinstance(err, BinanceRejectedError)
    assert err.reason == "timestamp"
    assert err.retryable


def test_unknown_outcome_on_submission_means_query_never_resend() -> None:
    for err in (
        error_from_code(
            -1007, "Timeout waiting for response from backend server.", submission=True
        ),
        error_from_http(503, b"Service Unavailable", {}, submission=True),
    ):
        assert isinstance(err, OrderOutcomeUnknownError)
        assert not err.retryable
    plain = error_from_http(502, b"", {})
    assert type(plain) is VenueError
    assert plain.retryable


def test_unknown_order_and_other_codes() -> None:
    err = error_from_code(-2013, "Order does not exist.")
    assert isinstance(err, BinanceRejectedError)
    assert err.reason == "unknown_order"
    other = error_from_code(-1121, "Invalid symbol.")
    assert isinstance(other, BinanceRejectedError)
    assert other.reason == "rejected"
    assert other.code == -1121
    assert "Invalid symbol." in str(other)

"""Kraken error strings map onto the tradegw error tree with the right retry flags."""

from __future__ import annotations

import pytest
from tradegw_kraken.errors import is_retryable, map_error, map_errors

from tradegw_core.errors import (
    AuthenticationError,
    OrderOutcomeUnknownError,
    RateLimitedError,
    VenueError,
    VenueRejectedError,
)


@pytest.mark.parametrize(
    ("text", "kind", "retryable"),
    [
        ("EAPI:Invalid key", AuthenticationError, False),
        ("EAPI:Invalid signature", AuthenticationError, False),
        ("EGeneral:Permission denied", AuthenticationError, False),
        ("EAPI:Rate limit exceeded", RateLimitedError, True),
        ("EOrder:Rate limit exceeded", RateLimitedError, True),
        ("EGeneral:Temporary lockout", RateLimitedError, True),
        ("EAPI:Invalid nonce", VenueRejectedError, True),
        ("EService:Unavailable", VenueRejectedError, True),
        ("EService:Busy", VenueRejectedError, True),
        ("EOrder:Insufficient funds", VenueRejectedError, False),
        ("EOrder:Order minimum not met", VenueRejectedError, False),
        ("EGeneral:Invalid arguments:volume", VenueRejectedError, False),
        ("EQuery:Unknown asset pair", VenueRejectedError, False),
        ("EService:Market in cancel_only mode", VenueRejectedError, False),
        ("Subscription depth not supported", VenueRejectedError, False),
    ],
)
def test_error_mapping(text: str, kind: type[VenueError], retryable: bool) -> None:
    err = map_error(text)
    assert type(err) is kind
    assert err.retryable is retryable
    assert is_retryable(text) is retryable
    assert text in str(err)
    assert err.venue == "kraken"
    if isinstance(err, VenueRejectedError):
        assert err.code == text


def test_internal_error_on_submission_means_outcome_unknown() -> None:
    assert isinstance(
        map_error("EGeneral:Internal error", submission=True), OrderOutcomeUnknownError
    )
    plain = map_error("EGeneral:Internal error")
    assert not isinstance(plain, OrderOutcomeUnknownError)
    assert plain.retryable


def test_error_list_keeps_every_message() -> None:
    err = map_errors(["EOrder:Invalid price", "EGeneral:Invalid arguments"], context="AddOrder")
    assert isinstance(err, VenueRejectedError)
    assert "AddOrder" in str(err)
    assert "EGeneral:Invalid arguments" in str(err)
    assert "empty" in str(map_errors([]))

"""API-Sign: the documented vector reproduces byte for byte; nonces only increase."""

from __future__ import annotations

import pytest
from tradegw_kraken.signing import NonceSource, api_sign, decode_secret

from tradegw_core.clock import FakeClock
from tradegw_core.errors import ConfigError

# test-vectors.md 3.1 (Kraken REST authentication guide; a documentation sample key).
DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_NONCE = "1616492376594"
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_documented_api_sign_vector() -> None:
    assert api_sign("/0/private/AddOrder", DOC_NONCE, DOC_BODY, DOC_SECRET) == DOC_SIGN
    assert (
        api_sign(
            "/0/private/AddOrder", int(DOC_NONCE), DOC_BODY.encode(), decode_secret(DOC_SECRET)
        )
        == DOC_SIGN
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/0/private/CancelOrder", DOC_BODY),
        ("/0/private/AddOrder", DOC_BODY.replace("1.25", "1.26")),
    ],
)
def test_any_change_changes_the_signature(path: str, body: str) -> None:
    assert api_sign(path, DOC_NONCE, body, DOC_SECRET) != DOC_SIGN


def test_secret_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="api_secret"):
        decode_secret("not base64!")


def test_nonces_strictly_increase_even_within_one_millisecond() -> None:
    clock = FakeClock(start_ns=1_616_492_376_594_000_000)
    nonces = NonceSource(clock)
    first = nonces.next()
    assert first == 1616492376594
    assert nonces.next() == first + 1
    clock.advance(1.0)
    assert nonces.next() == 1616492377594
